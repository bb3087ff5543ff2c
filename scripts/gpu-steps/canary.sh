# canary: one tiny forward pass on the device under a short timeout, before anything long. If it fails or hangs,
# every CUDA step after it is skipped with its reason and the call ends early with the evidence (the engine's error,
# nvidia-smi, the kernel log), leaving time to fix and try again in the same device window.
# Rehearsal (--dry-run): GPU_RUN_FAKE_CANARY=fail runs it on a device that does not exist (a real engine failure),
# =hang makes it sleep past its limit (CANARY_TIMEOUT, default 60 s).
STEP_NEEDS=cuda
STEP_LIMIT=${CANARY_TIMEOUT:-60}
STEP_MIN=20
STEP_ESTIMATE=15

step() {
  local device=$DEVICE
  case "${GPU_RUN_FAKE_CANARY:-}" in
    fail) device=no-such-device; echo "GPU_RUN_FAKE_CANARY=fail: the canary runs on --device $device" ;;
    hang) echo "GPU_RUN_FAKE_CANARY=hang: the canary sleeps past its limit"; sleep 100000 ;;
  esac
  engine bench --preset gpt2 --device "$device" --batch 1 --layers 0-1 --iterations 1 2>&1 | tee "$(fig canary.txt)"
}

# After a failure or a timeout (the runner calls it in a fresh bash): why, for the summary, and the evidence.
after_failure() {
  local why
  why=$(grep -m1 -E "^(error|Unhandled|.*Exception)" "$(fig canary.txt)" 2>/dev/null | cut -c1-300)
  echo "canary failed: ${why:-$1}" | tee "$CUDA_BROKEN" >> "$(fig "$STEP.note")"
  {
    echo "== canary output (last 40 lines)"; tail -40 "$(fig canary.txt)" 2>/dev/null
    echo "== nvidia-smi -q (first 60 lines)"; timeout 20 nvidia-smi -q 2>&1 | head -60
    echo "== kernel log (NVRM/Xid, last 20 lines)"; (timeout 5 dmesg 2>&1 || echo "dmesg not readable") | grep -iE "nvrm|xid|nvidia|dmesg" | tail -20
    echo "== engine info"; cat "$(fig info.txt)" 2>/dev/null
  } > "$(fig canary-evidence.txt)" 2>&1
  cat "$(fig canary-evidence.txt)"
}
