# ablation: `engine eval` (gpt2, 64 windows: the LM head's GEMM and the host log-softmax) and a small `engine ablate`
# (gpt2, layer 6, 255 neurons × 4 windows: 4 fanned-out batches of 256 elements) in fp32; their result and timing lines
# go to the summary. Not a default step (the default steps' estimates fill the window): run it with STEPS=ablation.
# docs/ablation.md projects gpt2-xl from these figures.
STEP_NEEDS=cuda
STEP_LIMIT=120
STEP_MIN=40
STEP_ESTIMATE=40

step() {
  local windows=64 neurons=0-254 ablate_windows=4 failed=0 t0 t1
  [ "$DRY" = 1 ] && { windows=2; neurons=0-2; ablate_windows=1; }
  t0=$(date +%s.%N)
  engine eval --preset gpt2 --max-windows "$windows" --device "$DEVICE" --json 2>&1 | tee "$(fig eval.txt)"
  t1=$(date +%s.%N)
  if grep -q '"perplexity"' "$(fig eval.txt)"; then
    note "eval gpt2 $windows windows: $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s (process included) $(grep -o '"loss":[^,]*' "$(fig eval.txt)")"
  else
    failed=1; note "eval did not finish"
  fi
  rm -rf "${WORK:?}/ablate"
  engine ablate --preset gpt2 --layers 6 --neurons "$neurons" --max-windows "$ablate_windows" --batch 256 --device "$DEVICE" \
    --out "$WORK/ablate" 2>&1 | tee "$(fig ablate.txt)"
  if grep -q "^ablate: .* ms per neuron" "$(fig ablate.txt)"; then
    note "$(grep -m1 "^ablate: layers" "$(fig ablate.txt)")"
    note "$(grep -m1 "ms per neuron" "$(fig ablate.txt)")"
  else
    failed=1; note "ablate did not finish"
  fi
  rm -rf "${WORK:?}/ablate"
  return $failed
}
