# facts: the machine (uname, memory, nvidia-smi, PyTorch) and `engine info`, which says why CUDA was not found.
STEP_NEEDS=none      # none | cuda (skipped with the reason once CUDA is known to be unusable)
STEP_LIMIT=60        # seconds at most (the step is killed after that)
STEP_MIN=10          # not started with less than this left before the deadline
STEP_ESTIMATE=10     # expected seconds on an H100 box (docs/benchmarks.md says how each was estimated)

step() {
  { uname -a; nproc; free -g 2>/dev/null; } > "$(fig uname.txt)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader > "$(fig gpu.csv)" 2>&1
  else
    echo "nvidia-smi not found" > "$OUT/nvidia-smi.txt"
  fi
  python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())" > "$(fig torch-version.txt)" 2>&1 || true
  engine info --preset gpt2 > "$(fig info.txt)" 2>&1 || { cat "$(fig info.txt)"; fail "engine info failed"; }
  cat "$(fig info.txt)"
  if grep -q "^  cuda .*none found" "$(fig info.txt)"; then
    sed -n 's/^  cuda *none found: //p' "$(fig info.txt)" > "$(fig cuda-missing)"
    # Here (--dry-run, device cpu) no CUDA is expected; on the box every CUDA step is skipped with this reason.
    [ "$DRY" = 1 ] || { echo "no CUDA device: $(cat "$(fig cuda-missing)")" > "$CUDA_BROKEN"; fail "CUDA not found: $(cat "$(fig cuda-missing)")"; }
  fi
  return 0
}
