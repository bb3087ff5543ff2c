# torch: the PyTorch anchor (benchmarks/anchors/torch_gpt2.py) on the same gpt2 weights: its tokens/s at the bench's
# batches, torch.matmul at GPT-2's GEMM shapes per precision (the tensor-core GEMM's yardstick), and the max activation
# difference against an `engine dump` of the same windows on the device.
STEP_NEEDS=cuda
STEP_LIMIT=90
STEP_MIN=30
STEP_ESTIMATE=35

step() {
  have_torch || skip "PyTorch is not importable by python3 here"
  local model=$ENGINE_CACHE/synthetic/gpt2-seed0-f32 dump=$WORK/torch-dump
  rm -rf "$dump"
  local args=(--device "$DEVICE" --batches 64,256,512 --seq 64 --iters 5 --gemm --precisions "$PRECISIONS")
  local layers=()
  if [ "$DRY" = 1 ]; then args=(--device cpu --batches 1 --seq 8 --iters 1 --threads 2 --precisions "$PRECISIONS" --layers 1); layers=(--layers 0-1); fi
  # The same model.safetensors and the same windows: engine dump first, then torch on those tokens.
  engine dump --preset gpt2 --device "$DEVICE" --max-windows 8 "${layers[@]}" --out "$dump" || fail "engine dump for the comparison failed"
  python3 "$SRC/benchmarks/anchors/torch_gpt2.py" --model "$model" "${args[@]}" --compare-dump "$dump" --json "$(fig torch.json)"
}
