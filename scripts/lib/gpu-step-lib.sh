# Helpers every step of scripts/gpu-run.sh may use (sourced into the step's own bash, after the step file is read).
# The runner exports: B (the unpacked bundle), SRC (where scripts and anchors are read from: the repository copy when
# it travelled, else the bundle's), WORK, OUT, LOG, DRY (1 in --dry-run), DEVICE (cuda, or cpu in --dry-run), STEP,
# PRECISIONS, CUDA_BROKEN (a file: present when CUDA cannot be used, holding why).
# A step ends with exit 0 (ok), `skip REASON` (exit 3), `fail REASON` (exit 1 with the reason in the summary) or any
# other non-zero code (failed, "see run.log"). `note TEXT` adds a line to the step's entry in summary.txt.

# A file of this step's figures: everything under $WORK/fig goes into $OUT/steps.tar.gz after every step.
fig() { echo "$WORK/fig/$1"; }
note() { echo "$*" >> "$(fig "$STEP.note")"; echo "note: $*"; }
skip() { echo "$*" > "$(fig "$STEP.skip")"; exit 3; }
fail() { echo "$*" > "$(fig "$STEP.fail")"; echo "failed: $*"; exit 1; }
engine() { "$B/engine" "$@"; }
have_torch() { python3 -c "import torch" >/dev/null 2>&1; }
figures() { python3 "$SRC/scripts/lib/gpu_figures.py" "$@"; }

# Whether PRECISIONS (the run's filter) lets a precision through.
precision_on() { case ",$PRECISIONS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# BenchmarkDotNet in-process (no SDK on the box to build child processes), short settings, its live output in run.log
# (tee) and in fig/bdn-NAME.txt. It exits 0 even when it measured nothing, so its JSON report is checked for cases.
bdn() {
  local name=$1; shift
  local job=(--warmupCount 1 --iterationCount 3 --iterationTime 50)
  [ "$DRY" = 1 ] && job=(--job Dry)
  rm -rf "$WORK/bdn-$name"
  (cd "$WORK" && "$B/Engine.Benchmarks" --inProcess "${job[@]}" --exporters json github --artifacts "$WORK/bdn-$name" "$@") 2>&1 \
    | tee "$(fig "bdn-$name.txt")"
  local rc=${PIPESTATUS[0]}
  figures check-bdn "$WORK/bdn-$name" || return 1
  cat "$WORK/bdn-$name"/results/*-report-github.md >> "$OUT/benchmarks.md" 2>/dev/null
  return "$rc"
}
