# bench: `engine bench` (forward pass, per layer and overall) for gpt2 at batch 64/256/512 × 64 tokens in fp32, and
# gpt2-xl at 512 × 64 in fp32 and bf16 (PRECISIONS filters the precisions).
STEP_NEEDS=cuda
STEP_LIMIT=150
STEP_MIN=40
STEP_ESTIMATE=75

step() {
  local runs=("gpt2 fp32 64 5" "gpt2 fp32 256 5" "gpt2 fp32 512 5" "gpt2-xl fp32 512 2" "gpt2-xl bf16 512 2")
  local extra=(--seq-len 64)
  [ "$DRY" = 1 ] && { runs=("gpt2 fp32 1 1" "gpt2 fp32 2 1" "gpt2 bf16 2 1"); extra=(--seq-len 8 --layers 0-1); }
  local run p prec b iters failed=0
  for run in "${runs[@]}"; do
    read -r p prec b iters <<< "$run"
    precision_on "$prec" || continue
    engine bench --preset "$p" --device "$DEVICE" --batch "$b" --precision "$prec" --iterations "$iters" "${extra[@]}" --json \
      > "$(fig "bench-$p-$prec-$b.json")" || { failed=1; note "bench $p $prec batch $b failed"; continue; }
    echo "$p $prec batch $b: $(grep -o '"tokens_per_second":[0-9.]*' "$(fig "bench-$p-$prec-$b.json")")"
  done
  return $failed
}
