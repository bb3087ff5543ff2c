# rehearse (--dry-run only, last): checks this run's own outputs, then rehearses the paths a GPU window cannot afford to
# find broken, each as a nested dry run with its own WORK and OUT (same bundle and weights):
#   canary  a failing canary (GPU_RUN_FAKE_CANARY=fail): every later CUDA step skipped with its reason, evidence kept;
#   hang    a hanging canary cut by its timeout: the same, with "timed out";
#   deadline a step that cannot get its minimum time is skipped for the deadline and fails the dry run;
#   killed  a run SIGKILLed mid-step still leaves summary.txt (the steps done, the one running) and steps.tar.gz.
STEP_NEEDS=none
STEP_LIMIT=300
STEP_MIN=60
STEP_ESTIMATE=0

# check WHAT CONDITION…: prints ok/FAILED, counts failures.
check() { local what=$1; shift; if "$@"; then echo "rehearse: ok      $what"; else echo "rehearse: FAILED  $what"; bad=$((bad + 1)); fi; }
status_of() { awk -F'\t' -v s="$2" '$1 == s { print $2 }' "$1/fig/steps.tsv" 2>/dev/null; }
note_of() { awk -F'\t' -v s="$2" '$1 == s { print $4 }' "$1/fig/steps.tsv" 2>/dev/null; }
order_of() { cut -f1 "$1/fig/steps.tsv" 2>/dev/null | paste -sd, -; }
# (grep reads the whole listing: with -q it could exit first, and tar's SIGPIPE would fail the pipe under pipefail.)
in_archive() { tar -tzf "$1/steps.tar.gz" 2>/dev/null | grep -x "$2" >/dev/null; }

# One nested dry run: NAME, then VAR=value settings; its exit code in $WORK/rehearse/NAME/rc.
nested() {
  local name=$1; shift
  local dir=$WORK/rehearse/$name
  rm -rf "$dir"; mkdir -p "$dir/work" "$dir/out"
  echo "rehearse: --- $name: $*"
  env "$@" WORK="$dir/work" OUT="$dir/out" GPU_RUN_BUNDLE="$B" GPU_RUN_SRC="$SRC" ENGINE_CACHE="$ENGINE_CACHE" \
    bash "$SRC/scripts/gpu-run.sh" --dry-run > "$dir/console.txt" 2>&1
  echo $? > "$dir/rc"
  sed 's/^/    /' "$dir/out/summary.txt" 2>/dev/null | head -20
}

step() {
  [ "$DRY" = 1 ] || skip "only in --dry-run"
  local bad=0 plan done_steps
  # This run so far: the steps ran in the order STEPS gave, and every one of them is in the archive's steps.tsv.
  plan=$(sed 's/,rehearse$//' "$(fig plan.txt)")
  done_steps=$(order_of "$WORK")
  check "this run's steps ran in the order of STEPS ($plan)" [ "$done_steps" = "$plan" ]
  check "steps.tar.gz holds fig/steps.tsv with every step so far" \
    bash -c '[ "$(tar -xzOf "$1/steps.tar.gz" fig/steps.tsv | cut -f1 | paste -sd, -)" = "$2" ]' _ "$OUT" "$plan"
  check "OUT holds at most 8 files" [ "$(ls -A "$OUT" | wc -l)" -le 8 ]
  # A step added to the default order must keep the run inside one device window (docs/benchmarks.md's table).
  local total
  total=$(GPU_RUN_SRC="$SRC" bash "$SRC/scripts/gpu-run.sh" --list | sed -n 's/.*estimated \([0-9]*\)s.*/\1/p')
  check "the default steps' H100 estimates add up to at most 450 s (${total:-?} s)" [ "${total:-999}" -le 450 ]

  local d=$WORK/rehearse
  nested canary GPU_RUN_FAKE_CANARY=fail STEPS=facts,canary,tests,bench,gemm
  check "canary: the run fails (exit 1)" [ "$(cat "$d/canary/rc")" = 1 ]
  check "canary: facts ok, canary failed" [ "$(status_of "$d/canary/work" facts) $(status_of "$d/canary/work" canary)" = "ok failed" ]
  local s
  for s in tests bench gemm; do
    check "canary: $s skipped with the canary's reason" \
      bash -c '[ "$1" = skipped ] && [[ "$2" == "canary failed: error: "* ]]' _ "$(status_of "$d/canary/work" $s)" "$(note_of "$d/canary/work" $s)"
  done
  check "canary: the evidence is in steps.tar.gz" in_archive "$d/canary/out" fig/canary-evidence.txt
  check "canary: summary.txt names the reason" grep -q "canary failed: error: " "$d/canary/out/summary.txt"

  nested hang GPU_RUN_FAKE_CANARY=hang CANARY_TIMEOUT=5 GPU_RUN_LIMIT_FACTOR=1 STEPS=canary,bench
  check "hang: the canary timed out and bench was skipped for it" \
    bash -c '[ "$1 $2" = "failed skipped" ] && [[ "$3" == "canary failed: timed out"* ]]' _ \
    "$(status_of "$d/hang/work" canary)" "$(status_of "$d/hang/work" bench)" "$(note_of "$d/hang/work" bench)"

  nested deadline DEADLINE=15 STEPS=facts,records
  check "deadline: records (needs 60 s) skipped for the deadline" \
    bash -c '[ "$1" = skipped ] && [[ "$2" == deadline:* ]]' _ "$(status_of "$d/deadline/work" records)" "$(note_of "$d/deadline/work" records)"
  check "deadline: a step the deadline cut fails the dry run (exit 1)" [ "$(cat "$d/deadline/rc")" = 1 ]

  # Killed: a canary that hangs (60 s limit), the whole run SIGKILLed once summary.txt says it is running.
  local k=$d/killed runner i
  rm -rf "$k"; mkdir -p "$k/work" "$k/out"
  echo "rehearse: --- killed: STEPS=facts,canary with a hanging canary, SIGKILL while it runs"
  GPU_RUN_FAKE_CANARY=hang GPU_RUN_LIMIT_FACTOR=1 STEPS=facts,canary WORK="$k/work" OUT="$k/out" GPU_RUN_BUNDLE="$B" GPU_RUN_SRC="$SRC" ENGINE_CACHE="$ENGINE_CACHE" \
    setsid bash "$SRC/scripts/gpu-run.sh" --dry-run > "$k/console.txt" 2>&1 &
  runner=$!
  for ((i = 0; i < 120; i++)); do grep -q "canary: running" "$k/out/summary.txt" 2>/dev/null && break; sleep 1; done
  local step_group
  step_group=$(cut -d" " -f2 "$k/work/step.pid" 2>/dev/null)
  kill -KILL -- "-$runner" 2>/dev/null
  [ -n "$step_group" ] && kill -KILL -- "-$step_group" 2>/dev/null
  wait "$runner" 2>/dev/null
  sed 's/^/    /' "$k/out/summary.txt" 2>/dev/null | head -8
  check "killed: summary.txt shows facts ok and the canary running" \
    bash -c 'grep -q "facts ok" "$1" && grep -q "canary: running" "$1"' _ "$k/out/summary.txt"
  check "killed: steps.tar.gz holds facts' figures" in_archive "$k/out" fig/info.txt

  (( bad == 0 )) || fail "$bad rehearsal check(s) failed (see run.log)"
}
