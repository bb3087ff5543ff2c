# records: `engine records` on gpt2-xl (all 48 layers, packed) over 2,048 windows of seeded random tokens, in fp32 and
# bf16 (PRECISIONS filters), with a small pilot; the projection of OpenAI's 50,000 × 64 tokens uses the pass rate
# (target: < 300 s).
STEP_NEEDS=cuda
STEP_LIMIT=150
STEP_MIN=60
STEP_ESTIMATE=75

step() {
  local windows=${RECORDS_WINDOWS:-2048} preset=gpt2-xl extra=(--pilot-windows 256) prec failed=0
  [ "$DRY" = 1 ] && { windows=16; preset=gpt2; extra=(--layers 0 --seq-len 8 --pilot-windows 8); }
  figures make-corpus "$WORK/random-tokens.bin" $((windows * 64 + 1)) || fail "could not make the corpus"
  for prec in fp32 bf16; do
    precision_on "$prec" || continue
    rm -rf "$WORK/records"
    engine records --preset "$preset" --device "$DEVICE" --corpus "$WORK/random-tokens.bin" --max-windows "$windows" \
      --precision "$prec" --format packed --out "$WORK/records" "${extra[@]}" 2>&1 | tee "$(fig "records-$prec.txt")"
    grep -q "^records: time:" "$(fig "records-$prec.txt")" || { failed=1; note "records $prec did not finish"; }
  done
  rm -rf "$WORK/records"
  return $failed
}
