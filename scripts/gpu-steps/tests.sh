# tests: the device=cuda tests of the bundle's xunit suite (forward on gpt2's shape vs cpu ≤ 1e-4, records vs the
# managed collector, GEMMs and tensor-core GEMMs vs their references, mma rounding, related tokens). Here (--dry-run)
# they are all skipped; on the box a skip means CUDA was not found. A test running over 20 s is named in tests.log
# as it runs (xunit's long-running report), so a hang names its test.
STEP_NEEDS=cuda
STEP_LIMIT=150
STEP_MIN=45
STEP_ESTIMATE=60

step() {
  "$B/Engine.Tests" -trait "device=cuda" -noLogo -noColor -longRunning 20 -xml "$(fig tests.xml)" > "$OUT/tests.log" 2>&1
  local rc=$?
  long_running | sed 's/^/running over 20 s: /'
  tail -3 "$OUT/tests.log"
  grep -q "Total: [1-9]" "$OUT/tests.log" || fail "no device=cuda test was found in the bundle"
  [ "$DRY" = 1 ] || ! grep -q "Skipped: [1-9]" "$OUT/tests.log" || fail "CUDA tests were skipped on the GPU box"
  return $rc
}

# The tests xunit reported as running over 20 s ("[Long Running Test] 'Name', Elapsed: …", repeated while they run).
long_running() { sed -n "s/.*\[Long Running Test\] '\([^']*\)'.*/\1/p" "$OUT/tests.log" 2>/dev/null | sort -u; }

# After a failure or a timeout: the long-running tests, for the summary (after a timeout: the one that hung).
after_failure() {
  local hung
  hung=$(long_running | paste -sd, -)
  [ -z "$hung" ] || echo "tests running over 20 s: $hung" >> "$(fig "$STEP.note")"
}
