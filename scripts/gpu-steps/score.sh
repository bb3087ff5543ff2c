# score: `engine score` over 1,024 synthetic OpenAI results files (files/s, projected to gpt2-xl's 307,200), and the
# CUDA scoring benchmark at OpenAI's full size (307,200 neurons × 10 × 64 tokens, transfers included) without files.
STEP_NEEDS=cuda
STEP_LIMIT=90
STEP_MIN=30
STEP_ESTIMATE=30

step() {
  local files=${SCORE_FILES:-1024}
  [ "$DRY" = 1 ] && files=64
  rm -rf "$WORK/simulations" "$WORK/scored"
  figures make-simulations "$WORK/simulations" "$files" || fail "could not make the simulations"
  local t0 t1
  t0=$(date +%s.%N)
  engine score --explanations "$WORK/simulations" --out "$WORK/scored" --device "$DEVICE" | tee "$(fig score.txt)" || fail "engine score failed"
  t1=$(date +%s.%N)
  echo "score_seconds $(awk "BEGIN { print $t1 - $t0 }") files $files" >> "$(fig score.txt)"
  # The dry run leaves the benchmark out: its 1.6 GB batch is slow to build here, and gemm exercises BenchmarkDotNet.
  [ "$DRY" = 1 ] || bdn scoring --filter '*IlgpuScoringBenchmarks*'
}
