#!/usr/bin/env bash
# The prepared GPU run: everything we measure on a GPU box, from the bundle that scripts/gpu-pack.sh made, with no
# .NET and no network on the box. One command, a deadline, a timeout per step, and at most 7 files in $OUT:
#   summary.txt   every figure and every step's status, readable
#   figures.json  the same figures as one JSON object (what docs/benchmarks.md is filled from)
#   run.log       everything each step printed, in order
#   tests.log     the CUDA tests (xunit v3)            nvidia-smi.txt   the machine
#   benchmarks.md BenchmarkDotNet's tables             ptx-report.md    registers/spills/occupancy with the box's ptxas
#
#   bash out/gpu/gpu-run.sh                # on the box, from the repository root (out/gpu carried there)
#   bash out/gpu/gpu-run.sh --dry-run      # here: --device cpu, tiny sizes, torch skipped when absent (a CI test)
#
# Environment: OUT (results; default ./out/gpu-run), STEPS (comma list; default all of
# facts,tests,ptx,bench,precision,torch,gemm,records,score), DEADLINE (seconds for the whole run; default 420), WORK
# (scratch: unpacked bundle, synthetic weights, corpora; default /tmp/engine-gpu-run), ENGINE_CACHE (synthetic weights;
# default $WORK/cache), RECORDS_WINDOWS (gpt2-xl records run; default 4096), SCORE_FILES (engine score run; default
# 8192), PRECISIONS (GEMM precisions of bench, precision, torch and records; default fp32,tf32,bf16: fp32 at every
# bench batch, tf32/bf16 at the largest; `precision` compares tf32/bf16 with fp32 on the device; records runs each).
# Steps run in that order, most telling first; those the deadline cuts are reported as skipped ("deadline"), and a
# later GPU session runs just them with STEPS=… (one session's 15 device minutes hold one call of ≤ 10 minutes).
# Exit code: 0 when every selected step passed or was skipped for a stated reason, 1 otherwise.
set -uo pipefail
DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "usage: gpu-run.sh [--dry-run]   (settings through OUT, STEPS, DEADLINE, WORK; see the header)" >&2; exit 2 ;;
esac
T0=$SECONDS
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${WORK:-/tmp/engine-gpu-run}
OUT=${OUT:-$PWD/out/gpu-run}
DEADLINE=${DEADLINE:-420}
STEPS=${STEPS:-facts,tests,ptx,bench,precision,torch,gemm,records,score}
PRECISIONS=${PRECISIONS:-fp32,tf32,bf16}
mkdir -p "$OUT" "$WORK/fig"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT"/{summary.txt,figures.json,run.log,tests.log,nvidia-smi.txt,benchmarks.md,ptx-report.md} "$WORK"/fig/* "$WORK"/bdn-*
LOG=$OUT/run.log
say() { echo "[gpu-run $((SECONDS - T0))s] $*" | tee -a "$LOG"; }

# --- the bundle: beside this script (out/gpu/engine-gpu-bundle.tar.xz), or this script already inside it ---------
if [ -x "$HERE/../engine" ] && [ -x "$HERE/../Engine.Tests" ]; then
  B=$(cd "$HERE/.." && pwd)
elif [ -f "$HERE/engine-gpu-bundle.tar.xz" ]; then
  B=$WORK/bundle
  if [ ! -f "$B/.unpacked" ] || [ "$HERE/engine-gpu-bundle.tar.xz" -nt "$B/.unpacked" ]; then
    rm -rf "$B"
    # tar needs the xz program; Python's tarfile (lzma is in its standard library) is the fallback where it is missing.
    if command -v xz >/dev/null; then tar -C "$WORK" -xJf "$HERE/engine-gpu-bundle.tar.xz"
    else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$HERE/engine-gpu-bundle.tar.xz" "$WORK"
    fi && touch "$B/.unpacked" || { say "cannot unpack $HERE/engine-gpu-bundle.tar.xz"; exit 1; }
  fi
else
  say "no bundle: run scripts/gpu-pack.sh first (it writes out/gpu/engine-gpu-bundle.tar.xz beside this script)"; exit 1
fi
export ENGINE_CACHE=${ENGINE_CACHE:-$WORK/cache} CI=1
if [ "$DRY" = 1 ]; then DEVICE=cpu; else DEVICE=cuda; fi
say "bundle $B ($(head -c 12 "$B/COMMIT" 2>/dev/null)), device $DEVICE, steps $STEPS, deadline ${DEADLINE}s, OUT $OUT"
command -v dotnet >/dev/null 2>&1 && say "note: a dotnet is on PATH ($(command -v dotnet)); the bundle does not use it"

# --- steps: each runs in its own bash under `timeout`; exit 0 ok, 3 skipped (reason in fig/NAME.skip), else failed -
export B WORK OUT DRY DEVICE LOG PRECISIONS
fig() { echo "$WORK/fig/$1"; }
skip() { echo "$*" > "$(fig "$STEP.skip")"; exit 3; }
need_cuda() { [ "$DRY" = 1 ] || [ ! -f "$(fig cuda-missing)" ] || skip "no CUDA device: $(cat "$(fig cuda-missing)")"; }
engine() { "$B/engine" "$@"; }
have_torch() { python3 -c "import torch" >/dev/null 2>&1; }

step_facts() {
  { uname -a; nproc; free -g 2>/dev/null; } > "$(fig uname.txt)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader > "$(fig gpu.csv)" 2>&1
  else
    echo "nvidia-smi not found" > "$OUT/nvidia-smi.txt"
  fi
  python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())" > "$(fig torch-version.txt)" 2>&1 || true
  engine info --preset gpt2 > "$(fig info.txt)" 2>&1 || return 1
  cat "$(fig info.txt)"
  if grep -q "^  cuda .*none found" "$(fig info.txt)"; then
    sed -n 's/^  cuda *none found: //p' "$(fig info.txt)" > "$(fig cuda-missing)"
    [ "$DRY" = 1 ] || { echo "CUDA not found: $(cat "$(fig cuda-missing)")"; return 1; }
  fi
}

step_tests() {
  need_cuda
  # The device=cuda tests (forward on gpt2's shape vs cpu ≤ 1e-4, records vs the managed collector, scorer vs the
  # double-precision scorer, GEMM shapes). Here they are all skipped; on the box a skip means CUDA was not found.
  "$B/Engine.Tests" -trait "device=cuda" -noLogo -noColor -xml "$(fig tests.xml)" > "$OUT/tests.log" 2>&1
  local rc=$?
  tail -3 "$OUT/tests.log"
  grep -q "Total: [1-9]" "$OUT/tests.log" || { echo "no device=cuda test was found in the bundle"; return 1; }
  [ "$DRY" = 1 ] || ! grep -q "Skipped: [1-9]" "$OUT/tests.log" || { echo "CUDA tests were skipped on the GPU box"; return 1; }
  return $rc
}

# tf32/bf16 (the tensor-core GEMMs) run at the largest batch only: that is where GEMMs dominate.
step_bench() {
  need_cuda
  local presets="gpt2 gpt2-xl" batches="64 256 512" extra=(--seq-len 64 --iterations 5)
  [ "$DRY" = 1 ] && { presets="gpt2"; batches="1 2"; extra=(--seq-len 8 --layers 0-1 --iterations 1); }
  local p b prec largest failed=0
  for p in $presets; do
    [ "$p" = gpt2-xl ] && [ "$DRY" = 0 ] && extra=(--seq-len 64 --iterations 3)
    for b in $batches; do largest=$b; done
    for prec in ${PRECISIONS//,/ }; do
      for b in $batches; do
        [ "$prec" = fp32 ] || [ "$b" = "$largest" ] || continue
        engine bench --preset "$p" --device "$DEVICE" --batch "$b" --precision "$prec" "${extra[@]}" --json \
          > "$(fig "bench-$p-$prec-$b.json")" || { failed=1; continue; }
        echo "$p $prec batch $b: $(grep -o '"tokens_per_second":[0-9.]*' "$(fig "bench-$p-$prec-$b.json")")"
      done
    done
  done
  return $failed
}

# tf32/bf16 against fp32 on the device: max / p99.9 |Δ activation| and the records' top-20 agreement
# (engine precision-effect; docs/precision.md has the cpu figures on real text) over seeded random tokens.
step_precision() {
  need_cuda
  local compare=${PRECISIONS//fp32/} p windows
  compare=$(echo "$compare" | tr -s ',' | sed 's/^,//; s/,$//')
  [ -n "$compare" ] || skip "PRECISIONS ($PRECISIONS) names no tf32/bf16"
  python3 "$B/scripts/lib/gpu_figures.py" make-corpus "$WORK/precision-tokens.bin" $((512 * 64 + 1)) || return 1
  local failed=0
  for p in gpt2 gpt2-xl; do
    local extra=(--max-windows 512)
    [ "$p" = gpt2-xl ] && extra=(--max-windows 64)
    [ "$DRY" = 1 ] && { [ "$p" = gpt2 ] || continue; extra=(--max-windows 4 --seq-len 8 --layers 0-1 --batch 2); }
    engine precision-effect --preset "$p" --device "$DEVICE" --corpus "$WORK/precision-tokens.bin" --compare "$compare" \
      "${extra[@]}" --json "$(fig "precision-$p.json")" || failed=1
  done
  return $failed
}

step_torch() {
  have_torch || skip "PyTorch is not importable by python3 here"
  need_cuda
  local model=$ENGINE_CACHE/synthetic/gpt2-seed0-f32 dump=$WORK/torch-dump
  rm -rf "$dump"
  local args=(--device "$DEVICE" --batches 64,256,512 --seq 64 --iters 10 --gemm --precisions "$PRECISIONS")
  local layers=()
  if [ "$DRY" = 1 ]; then args=(--device cpu --batches 1 --seq 8 --iters 1 --threads 2 --precisions "$PRECISIONS"); layers=(--layers 0-1); fi
  # The same model.safetensors and the same windows: engine dump first, then torch on those tokens.
  engine dump --preset gpt2 --device "$DEVICE" --max-windows 8 "${layers[@]}" --out "$dump" || return 1
  [ "$DRY" = 1 ] && args+=(--layers 1)
  python3 "$B/anchors/torch_gpt2.py" --model "$model" "${args[@]}" --compare-dump "$dump" --json "$(fig torch.json)"
}

# BenchmarkDotNet in-process (no SDK to build a child process); it exits 0 even when it ran nothing, so the JSON report
# is checked for measured cases.
bdn() {
  local name=$1; shift
  local job=(--warmupCount 2 --iterationCount 5 --iterationTime 100)
  [ "$DRY" = 1 ] && job=(--job Dry)
  (cd "$WORK" && "$B/Engine.Benchmarks" --inProcess "${job[@]}" --exporters json github --artifacts "$WORK/bdn-$name" "$@") \
    > "$(fig "bdn-$name.txt")" 2>&1
  local rc=$?
  tail -25 "$(fig "bdn-$name.txt")"
  python3 "$B/scripts/lib/gpu_figures.py" check-bdn "$WORK/bdn-$name" || return 1
  cat "$WORK/bdn-$name"/results/*-report-github.md >> "$OUT/benchmarks.md" 2>/dev/null
  return $rc
}

# ILGPU.Algorithms' CuBlas binds libcublas.so.12/.11/.10; CUDA 13 boxes have libcublas.so.13 (in PyTorch's
# nvidia-cublas wheel or the toolkit). A libcublas.so.12 link to it on LD_LIBRARY_PATH lets the yardstick load.
cublas_shim() {
  local dirs found
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

step_gemm() {
  need_cuda
  [ "$DRY" = 1 ] || cublas_shim
  bdn gemm --filter '*GemmBenchmarks*'
}

# One gpt2-xl records run per precision: the projection of OpenAI's 50,000 × 64 tokens for each (target: < 5 min).
step_records() {
  need_cuda
  local windows=${RECORDS_WINDOWS:-4096} preset=gpt2-xl extra=() prec failed=0
  [ "$DRY" = 1 ] && { windows=16; preset=gpt2; extra=(--layers 0 --seq-len 8 --pilot-windows 8); }
  python3 "$B/scripts/lib/gpu_figures.py" make-corpus "$WORK/random-tokens.bin" $((windows * 64 + 1)) || return 1
  for prec in ${PRECISIONS//,/ }; do
    rm -rf "$WORK/records"
    engine records --preset "$preset" --device "$DEVICE" --corpus "$WORK/random-tokens.bin" --max-windows "$windows" \
      --precision "$prec" --format packed --out "$WORK/records" "${extra[@]}" 2>&1 | tee "$(fig "records-$prec.txt")"
    grep -q "^records: time:" "$(fig "records-$prec.txt")" || failed=1
  done
  rm -rf "$WORK/records"
  return $failed
}

step_score() {
  need_cuda
  local files=${SCORE_FILES:-8192}
  [ "$DRY" = 1 ] && files=64
  rm -rf "$WORK/simulations" "$WORK/scored"
  python3 "$B/scripts/lib/gpu_figures.py" make-simulations "$WORK/simulations" "$files" || return 1
  local t0 t1
  t0=$(date +%s.%N)
  engine score --explanations "$WORK/simulations" --out "$WORK/scored" --device "$DEVICE" | tee "$(fig score.txt)" || return 1
  t1=$(date +%s.%N)
  echo "score_seconds $(awk "BEGIN { print $t1 - $t0 }") files $files" >> "$(fig score.txt)"
  # The scoring itself at OpenAI's full size (307,200 neurons × 10 × 64), without reading any file (the dry run
  # leaves it out: the gemm step already exercises BenchmarkDotNet, and its 1.6 GB batch is slow to build here).
  [ "$DRY" = 1 ] || bdn scoring --filter '*ScoringBenchmarks*' 
}

step_ptx() {
  local ptxas cuobjdump
  ptxas=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas 2>/dev/null)
  cuobjdump=$(command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump 2>/dev/null)
  if [ "$DRY" = 1 ] || [ -z "$ptxas" ]; then
    # No CUDA toolkit: still prove the engine side (every catalogued kernel compiles to PTX from the bundle).
    engine ptx --out "$WORK/ptx" || return 1
    ls "$WORK/ptx"/*.ptx | wc -l
    [ -n "$ptxas" ] || skip "no ptxas on this machine: the PTX was generated, not assembled"
    return 0
  fi
  local dev=()
  [ -f "$(fig cuda-missing)" ] || dev=(--device cuda)
  bash "$B/scripts/ptx-report.sh" --engine "$B/engine" --ptxas "$ptxas" ${cuobjdump:+--cuobjdump "$cuobjdump"} "${dev[@]}" \
    --out "$OUT/ptx-report.md"
}

export -f fig skip need_cuda engine have_torch bdn cublas_shim say
export -f step_facts step_tests step_bench step_precision step_torch step_gemm step_records step_score step_ptx
export T0
declare -A LIMIT=([facts]=60 [tests]=150 [bench]=210 [precision]=90 [torch]=120 [gemm]=240 [records]=240 [score]=90 [ptx]=60)
failed=0
for STEP in facts tests ptx bench precision torch gemm records score; do
  case ",$STEPS," in *",$STEP,"*) ;; *) continue ;; esac
  left=$((DEADLINE - (SECONDS - T0)))
  if (( left < 15 )); then
    echo -e "$STEP\tskipped\t0\tthe run's deadline (${DEADLINE}s) was reached" >> "$WORK/fig/steps.tsv"; say "$STEP: skipped (deadline)"; continue
  fi
  limit=${LIMIT[$STEP]}; (( limit > left - 5 )) && limit=$((left - 5))
  say "$STEP: start (limit ${limit}s)"
  echo "===== $STEP =====" >> "$LOG"
  t=$SECONDS
  STEP=$STEP timeout --kill-after=10 "$limit" bash -c "set -o pipefail; step_$STEP" >> "$LOG" 2>&1
  rc=$?
  took=$((SECONDS - t))
  case $rc in
    0) status=ok; note="" ;;
    3) status=skipped; note=$(cat "$WORK/fig/$STEP.skip" 2>/dev/null) ;;
    124|137) status=failed; note="timed out after ${limit}s"; failed=1 ;;
    *) status=failed; note="exit code $rc (see run.log)"; failed=1 ;;
  esac
  echo -e "$STEP\t$status\t$took\t$note" >> "$WORK/fig/steps.tsv"
  say "$STEP: $status in ${took}s${note:+ — $note}"
done

if command -v python3 >/dev/null; then
  python3 "$B/scripts/lib/gpu_figures.py" report "$WORK/fig" "$OUT" "$DRY" >> "$LOG" 2>&1 || { say "figures: the report failed (see run.log)"; failed=1; }
else
  { echo "python3 is missing: no figures.json"; cat "$WORK/fig/steps.tsv"; } > "$OUT/summary.txt"
fi
cat "$OUT/summary.txt" 2>/dev/null
say "done in $((SECONDS - T0))s; results in $OUT"
exit $failed
