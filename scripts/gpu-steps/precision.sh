# precision: `engine precision-effect` on the device — tf32/bf16 against fp32 (max and p99.9 |Δ activation|, the
# records' top-20 agreement) over seeded random tokens, gpt2 on 128 windows and gpt2-xl on 16. Its effect is already
# known from the cpu (docs/precision.md); this checks the tensor cores give the same picture.
STEP_NEEDS=cuda
STEP_LIMIT=90
STEP_MIN=30
STEP_ESTIMATE=45

step() {
  local compare
  compare=$(for p in tf32 bf16; do precision_on "$p" && echo "$p"; done | paste -sd, -)
  [ -n "$compare" ] || skip "PRECISIONS ($PRECISIONS) names no tf32/bf16"
  figures make-corpus "$WORK/precision-tokens.bin" $((128 * 64 + 1)) || fail "could not make the corpus"
  local p extra failed=0
  for p in gpt2 gpt2-xl; do
    extra=(--max-windows 128)
    [ "$p" = gpt2-xl ] && extra=(--max-windows 16)
    [ "$DRY" = 1 ] && { [ "$p" = gpt2 ] || continue; extra=(--max-windows 4 --seq-len 8 --layers 0-1 --batch 2); }
    engine precision-effect --preset "$p" --device "$DEVICE" --corpus "$WORK/precision-tokens.bin" --compare "$compare" \
      "${extra[@]}" --json "$(fig "precision-$p.json")" || { failed=1; note "precision-effect $p failed"; }
  done
  return $failed
}
