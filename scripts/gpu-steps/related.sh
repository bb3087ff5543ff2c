# related: `engine related` (all 48 layers of gpt2-xl, OpenAI's definition: 98.8 TFLOP of vocabulary GEMMs) and
# `engine connections` (all 1,128 layer pairs of 6,400 × 1,600 × 6,400: 148 TFLOP) in fp32, top-k on the device; their
# "time:" lines (compute and write seconds, GFLOP/s, seconds per layer pair) go to the summary. Not a default step (the
# default steps' estimates fill the window): run it with STEPS=related, or after them when a window has time left.
STEP_NEEDS=cuda
STEP_LIMIT=150
STEP_MIN=60
STEP_ESTIMATE=45

step() {
  local preset=gpt2-xl layers=all failed=0 what
  [ "$DRY" = 1 ] && { preset=gpt2; layers=11; }
  for what in related connections; do
    rm -rf "${WORK:?}/$what"
    engine "$what" --preset "$preset" --layers "$layers" --device "$DEVICE" --out "$WORK/$what" 2>&1 | tee "$(fig "$what.txt")"
    if grep -q "^$what: time:" "$(fig "$what.txt")"; then
      note "$(grep -m1 "^$what: layers" "$(fig "$what.txt")")"
      note "$(grep -m1 "^$what: time:" "$(fig "$what.txt")")"
    else
      failed=1; note "$what did not finish"
    fi
    rm -rf "${WORK:?}/$what"
  done
  return $failed
}
