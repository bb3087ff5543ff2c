# gemm: GemmBenchmarks (BenchmarkDotNet) at GPT-2's six projection shapes: our fp32 GEMM, the tensor-core GEMM in tf32
# and bf16, and cuBLAS SGEMM as the yardstick. GEMM_CASES picks the cases ("device/implementation" prefixes; the
# benchmark reads it as ENGINE_GEMM_CASES): default cuda/ours,cuda/tf32,cuda/bf16,cuda/cublas (add cuda/ours128,
# cuda/ours64, cuda/ours+gelu for tile tuning). No cuBLAS case measured on the box fails this step, with the reason
# the benchmark's probe printed.
STEP_NEEDS=cuda
STEP_LIMIT=120
STEP_MIN=40
STEP_ESTIMATE=50

# ILGPU.Algorithms' CuBlas binds libcublas.so.12/.11/.10; CUDA 13 boxes have libcublas.so.13 (in PyTorch's
# nvidia-cublas wheel or the toolkit). A libcublas.so.12 link to it on LD_LIBRARY_PATH lets the yardstick load.
cublas_shim() {
  local dirs found d
  # PyTorch's wheels keep it under site-packages/nvidia/… (cublas/lib, or cu13/lib for CUDA 13 wheels).
  dirs=$(python3 -c "import sys, os, glob; print('\n'.join(sorted({os.path.dirname(f) for p in sys.path if os.path.isdir(p) for f in glob.glob(os.path.join(p, 'nvidia', '**', 'libcublas.so.*'), recursive=True)})))" 2>/dev/null
         ldconfig -p 2>/dev/null | sed -n 's/.*libcublas\.so\.[0-9]* .*=> \(.*\)\/libcublas.*/\1/p'
         echo /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib)
  for d in $dirs; do
    found=$(ls "$d"/libcublas.so.1[2-9]* 2>/dev/null | sort -V | tail -1)
    [ -n "$found" ] && break
  done
  [ -n "$found" ] || { echo "libcublas not found: the cuBLAS yardstick will be missing"; return 0; }
  mkdir -p "$WORK/cublas"
  ln -sf "$found" "$WORK/cublas/libcublas.so.12"
  export LD_LIBRARY_PATH="$WORK/cublas:$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "cuBLAS: $found (as libcublas.so.12)"
}

step() {
  local cases=${GEMM_CASES:-cuda/ours,cuda/tf32,cuda/bf16,cuda/cublas}
  [ "$DRY" = 1 ] && cases=${GEMM_CASES:-cpu/ours,cpu/tf32}
  [ "$DRY" = 1 ] || cublas_shim
  ENGINE_GEMM_CASES=$cases bdn gemm --filter '*GemmBenchmarks*' || return 1
  case ",$cases," in
    *,cuda/cublas,*)
      if ! grep -q '"cuda/cublas/' "$WORK"/bdn-gemm/results/*-report*.json 2>/dev/null; then
        local why
        why=$(grep -m1 'cuBLAS unavailable' "$(fig bdn-gemm.txt)" | cut -c1-300)
        fail "no cuBLAS case ran: ${why:-the benchmark printed no reason}"
      fi ;;
  esac
}
