#!/usr/bin/env bash
# The prepared GPU run: what we measure on a GPU box, from the bundle scripts/gpu-pack.sh made (no .NET and no network
# on the box). One command, a deadline, steps in the order of $STEPS, each under its own timeout. At most 8 files in
# $OUT, all rewritten after every step, so a call that is cut or killed still brings back what it measured:
#   summary.txt    every figure and every step's status, readable     figures.json   the same as one JSON object
#   run.log        everything each step printed, in order             tests.log      the CUDA tests (xunit v3)
#   nvidia-smi.txt the machine        benchmarks.md  BenchmarkDotNet's tables        ptx-report.md  the box's ptxas report
#   steps.tar.gz   every step's raw figures (fig/: JSON, logs, canary evidence) and BenchmarkDotNet's result files
#
#   bash scripts/gpu-run.sh            # on the box, from the repository root, with out/gpu carried there
#   bash out/gpu/gpu-run.sh            # the same (the copy gpu-pack wrote; it hands over to scripts/gpu-run.sh if newer)
#   bash scripts/gpu-run.sh --dry-run  # here: --device cpu, tiny sizes, then rehearsals of the failure paths (CI)
#   bash scripts/gpu-run.sh --list     # the steps: order, timeouts, H100 estimates
#
# Steps are files, scripts/gpu-steps/NAME.sh (docs/benchmarks.md: "Adding a step"); their scripts, the helpers and the
# PyTorch anchor are read from the repository copy when it travelled (SRC), so fixing one needs no repack; only the
# binaries come from the bundle.
# Environment: OUT (results; default ./out/gpu-run), STEPS (comma list, run in that order; default below), DEADLINE
# (seconds for the whole run; default 480, 1500 in --dry-run), WORK (scratch kept between calls on a warm machine:
# unpacked bundle, synthetic weights, JIT cache; default /tmp/engine-gpu-run, refused while another run uses it; in
# --dry-run a fresh folder, removed at the end unless KEEP_WORK=1), PRECISIONS (a filter on every step's
# precisions; default fp32,tf32,bf16), and the steps' own (RECORDS_WINDOWS, SCORE_FILES, GEMM_CASES, CANARY_TIMEOUT).
# A step is not started when less than its minimum time is left before the deadline ("skipped: deadline").
# Exit code: 0 when every selected step passed or was skipped for a stated reason, 1 otherwise; in --dry-run a step
# the deadline cut is a failure too (CI must not pass on steps it never ran).
set -uo pipefail
DEFAULT_STEPS=facts,canary,tests,bench,torch,gemm,score,records,precision,ptx
MODE=run
case "${1:-}" in
  --dry-run) MODE=dry ;;
  --list) MODE=list ;;
  "") ;;
  *) echo "usage: gpu-run.sh [--dry-run | --list]   (settings through OUT, STEPS, DEADLINE, WORK; see the header)" >&2; exit 2 ;;
esac
T0=$SECONDS
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# --- SRC: the scripts' source, the repository copy where one is here (the device tool carries the working tree) ----
if [ -n "${GPU_RUN_SRC:-}" ]; then SRC=$GPU_RUN_SRC
elif [ -d "$PWD/scripts/gpu-steps" ]; then SRC=$PWD
elif [ -d "$HERE/gpu-steps" ]; then SRC=$(cd "$HERE/.." && pwd)
else SRC=""; fi
# out/gpu/gpu-run.sh is a copy made at pack time: when the repository's runner differs, that one runs (with this
# bundle), so a fix to the runner needs no repack either.
if [ -n "$SRC" ] && [ -f "$SRC/scripts/gpu-run.sh" ] && [ "$HERE/gpu-run.sh" != "$SRC/scripts/gpu-run.sh" ] \
   && [ -z "${GPU_RUN_HANDED_OVER:-}" ] && ! cmp -s "${BASH_SOURCE[0]}" "$SRC/scripts/gpu-run.sh"; then
  echo "[gpu-run] $SRC/scripts/gpu-run.sh differs from this copy ($HERE): running that one"
  if [ -f "$HERE/engine-gpu-bundle.tar.xz" ]; then mine=$HERE/engine-gpu-bundle.tar.xz
  elif [ -x "$HERE/../engine" ]; then mine=$(cd "$HERE/.." && pwd); else mine=""; fi
  GPU_RUN_HANDED_OVER=1 GPU_RUN_BUNDLE=${GPU_RUN_BUNDLE:-$mine} exec bash "$SRC/scripts/gpu-run.sh" "$@"
fi

# Reads a step file's settings: "needs limit min estimate" (defaults where it names none).
step_file() { echo "${SRC:-$B}/scripts/gpu-steps/$1.sh"; }
step_meta() {
  [ -f "$(step_file "$1")" ] || return 1
  ( STEP_NEEDS=none STEP_LIMIT=60 STEP_MIN=10 STEP_ESTIMATE=0; . "$(step_file "$1")" >/dev/null 2>&1
    echo "$STEP_NEEDS $STEP_LIMIT $STEP_MIN $STEP_ESTIMATE" )
}

if [ "$MODE" = list ]; then
  [ -n "$SRC" ] || { echo "gpu-run: no scripts/gpu-steps here" >&2; exit 2; }
  total=0
  printf '%-10s %-6s %6s %6s %9s  %s\n' step needs limit min estimate default
  # The default steps in their order, then the others.
  others=$(cd "$SRC/scripts/gpu-steps" && ls *.sh | sed 's/\.sh$//' | grep -vxF "$(echo "$DEFAULT_STEPS" | tr , '\n')")
  for name in ${DEFAULT_STEPS//,/ } $others; do
    read -r needs limit min est < <(step_meta "$name")
    case ",$DEFAULT_STEPS," in *",$name,"*) dflt=yes; total=$((total + est)) ;; *) dflt=no ;; esac
    printf '%-10s %-6s %6s %6s %9s  %s\n' "$name" "$needs" "$limit" "$min" "$est" "$dflt"
  done
  echo "default order: $DEFAULT_STEPS; estimated ${total}s on an H100 (docs/benchmarks.md)"
  exit 0
fi

DRY=0; [ "$MODE" = dry ] && DRY=1
# A dry run (CI, a shared machine) gets a WORK of its own, removed at the end; the GPU run keeps one WORK per machine,
# which a warm machine's next call reuses.
if [ -z "${WORK:-}" ] && [ "$DRY" = 1 ]; then WORK=$(mktemp -d "${TMPDIR:-/tmp}/engine-gpu-dry-run.XXXXXX"); OWN_WORK=1; fi
WORK=${WORK:-/tmp/engine-gpu-run}
OWN_WORK=${OWN_WORK:-0}
OUT=${OUT:-$PWD/out/gpu-run}
if [ "$DRY" = 1 ]; then DEADLINE=${DEADLINE:-1500}; STEPS=${STEPS:-$DEFAULT_STEPS,rehearse}
else DEADLINE=${DEADLINE:-480}; STEPS=${STEPS:-$DEFAULT_STEPS}; fi
PRECISIONS=${PRECISIONS:-fp32,tf32,bf16}
mkdir -p "$OUT" "$WORK/fig"
OUT=$(cd "$OUT" && pwd)
WORK=$(cd "$WORK" && pwd)
LOG=$OUT/run.log
CUDA_BROKEN=$WORK/fig/cuda-broken
# step.pid: "RUNNER_PID STEP_GROUP" while a step runs. A runner still alive uses this WORK: refuse rather than clobber
# it. A dead one (a call that was killed, on a still-warm machine) may have left its step running: end it by its id.
if [ -f "$WORK/step.pid" ]; then
  read -r old_runner old_group < "$WORK/step.pid"
  if [ -n "${old_runner:-}" ] && kill -0 "$old_runner" 2>/dev/null; then
    echo "gpu-run: $WORK is in use by the run with PID $old_runner; set WORK to another folder" >&2; exit 2
  fi
  rm -f "$WORK/step.pid"
  if [ -n "${old_group:-}" ] && kill -0 -- "-$old_group" 2>/dev/null; then
    echo "[gpu-run] ending the step a killed earlier run left (process group $old_group)"; kill -KILL -- "-$old_group" 2>/dev/null
  fi
fi
rm -rf "$OUT"/{summary.txt,figures.json,run.log,tests.log,nvidia-smi.txt,benchmarks.md,ptx-report.md,steps.tar.gz}{,.tmp} \
  "$WORK"/fig/* "$WORK"/bdn-*
say() { echo "[gpu-run $((SECONDS - T0))s] $*" | tee -a "$LOG"; }

# --- the bundle: GPU_RUN_BUNDLE (archive or unpacked folder), this script inside one, or out/gpu's archive ----------
archive=""
if [ -n "${GPU_RUN_BUNDLE:-}" ] && [ -d "$GPU_RUN_BUNDLE" ]; then B=$(cd "$GPU_RUN_BUNDLE" && pwd)
elif [ -n "${GPU_RUN_BUNDLE:-}" ]; then archive=$GPU_RUN_BUNDLE
elif [ -x "$HERE/../engine" ] && [ -x "$HERE/../Engine.Tests" ]; then B=$(cd "$HERE/.." && pwd)
else
  for a in "$HERE/engine-gpu-bundle.tar.xz" "$HERE/../out/gpu/engine-gpu-bundle.tar.xz" "$PWD/out/gpu/engine-gpu-bundle.tar.xz"; do
    [ -f "$a" ] && { archive=$a; break; }
  done
  [ -n "$archive" ] || { say "no bundle: run scripts/gpu-pack.sh first (it writes out/gpu/engine-gpu-bundle.tar.xz)"; exit 1; }
fi
if [ -n "$archive" ]; then
  [ -f "$archive" ] || { say "no bundle at $archive"; exit 1; }
  B=$WORK/bundle
  # Unpacked once per archive content (a warm machine's second call reuses it, whatever the carried file's date).
  stamp=$(cksum < "$archive")
  if [ "$(cat "$B/.unpacked" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$B"
    # tar needs the xz program; Python's tarfile (lzma is in its standard library) is the fallback where it is missing.
    if command -v xz >/dev/null; then tar -C "$WORK" -xJf "$archive"
    else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$archive" "$WORK"
    fi && echo "$stamp" > "$B/.unpacked" || { say "cannot unpack $archive"; exit 1; }
  fi
fi
SRC=${SRC:-$B}
# Synthetic weights: under $WORK on the box (kept on a warm machine); a dry run shares the engine's usual cache (the
# tests' and gpu-pack's), so its fresh WORK does not write gpt2's 0.5 GB again.
if [ "$DRY" = 1 ] && [ -z "${ENGINE_CACHE:-}" ] && [ -n "${XDG_CACHE_HOME:-${HOME:-}}" ]; then
  ENGINE_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/neuron-engine
fi
export ENGINE_CACHE=${ENGINE_CACHE:-$WORK/cache} CI=1
# The steps' limits are the GPU box's; on a shared CPU machine (--dry-run) they are stretched (GPU_RUN_LIMIT_FACTOR,
# default 4 there, 1 on the box), so a loaded CI machine does not time out steps that are only slow here.
if [ "$DRY" = 1 ]; then LIMIT_FACTOR=${GPU_RUN_LIMIT_FACTOR:-4}; else LIMIT_FACTOR=${GPU_RUN_LIMIT_FACTOR:-1}; fi
# The driver's JIT cache (PTX → SASS) under $WORK: the ~60 contexts of a run compile each kernel once, also when HOME
# is odd, and a warm machine's next call starts with them compiled.
export CUDA_CACHE_PATH=${CUDA_CACHE_PATH:-$WORK/cuda-cache} CUDA_CACHE_MAXSIZE=${CUDA_CACHE_MAXSIZE:-4294967296}
if [ "$DRY" = 1 ]; then DEVICE=cpu; else DEVICE=cuda; fi
export B SRC WORK OUT LOG DRY DEVICE PRECISIONS CUDA_BROKEN

for STEP in ${STEPS//,/ }; do
  step_meta "$STEP" >/dev/null || { say "unknown step '$STEP' in STEPS (the steps: $(cd "$SRC/scripts/gpu-steps" && ls *.sh | sed 's/\.sh$//' | paste -sd, -))"; exit 2; }
done
say "bundle $B ($(head -c 12 "$B/COMMIT" 2>/dev/null)), scripts from $SRC, device $DEVICE, steps $STEPS, deadline ${DEADLINE}s, OUT $OUT"
command -v dotnet >/dev/null 2>&1 && say "note: a dotnet is on PATH ($(command -v dotnet)); the bundle does not use it"
echo "$STEPS" > "$WORK/fig/plan.txt"

# summary.txt + figures.json from what the steps left so far, and the archive of every step's files.
report() {
  if command -v python3 >/dev/null; then
    python3 "$SRC/scripts/lib/gpu_figures.py" report "$WORK/fig" "$OUT" "$DRY" >> "$LOG" 2>&1 || say "figures: the report failed (see run.log)"
  else
    { echo "python3 is missing: no figures.json"; cat "$WORK/fig/steps.tsv" 2>/dev/null; } > "$OUT/summary.txt"
  fi
  local bdn_results
  bdn_results=$(cd "$WORK" && ls -d bdn-*/results 2>/dev/null)
  tar -C "$WORK" -czf "$OUT/steps.tar.gz.tmp" fig $bdn_results 2>> "$LOG" && mv "$OUT/steps.tar.gz.tmp" "$OUT/steps.tar.gz"
}
record() { # NAME STATUS SECONDS NOTE
  echo -e "$1\t$2\t$3\t$4" >> "$WORK/fig/steps.tsv"
  rm -f "$WORK/fig/running.txt"
  say "$1: $2${3:+ in ${3}s}${4:+ — $4}"
  report
}
# Ends the running step's process group when this runner is stopped (a TERM from the caller's timeout, Ctrl+C).
trap '[ -f "$WORK/step.pid" ] && kill -TERM -- "-$(cut -d" " -f2 "$WORK/step.pid")" 2>/dev/null; exit 143' TERM INT

failed=0
for STEP in ${STEPS//,/ }; do
  read -r needs limit min _ < <(step_meta "$STEP")
  limit=$((limit * LIMIT_FACTOR))
  left=$((DEADLINE - (SECONDS - T0)))
  if [ "$needs" = cuda ] && [ -f "$CUDA_BROKEN" ]; then
    record "$STEP" skipped 0 "$(cat "$CUDA_BROKEN")"; continue
  fi
  if (( left < min )); then
    record "$STEP" skipped 0 "deadline: ${left}s left of ${DEADLINE}s, the step needs ${min}s"
    [ "$DRY" = 1 ] && failed=1
    continue
  fi
  (( limit > left )) && limit=$left
  echo -e "$STEP\t$((SECONDS - T0))\t$limit" > "$WORK/fig/running.txt"
  say "$STEP: start (limit ${limit}s)"
  report
  echo "===== $STEP =====" >> "$LOG"
  t=$SECONDS
  STEP=$STEP timeout --kill-after=10 "$limit" bash -c '. "$SRC/scripts/lib/gpu-step-lib.sh"; . "$1"; set -o pipefail; step' _ "$(step_file "$STEP")" >> "$LOG" 2>&1 &
  echo "$$ $!" > "$WORK/step.pid"
  wait $!
  rc=$?
  rm -f "$WORK/step.pid"
  took=$((SECONDS - t))
  case $rc in
    0) status=ok; note="" ;;
    3) status=skipped; note=$(cat "$WORK/fig/$STEP.skip" 2>/dev/null) ;;
    124|137) status=failed; note="timed out after ${limit}s" ;;
    *) status=failed; note=$(cat "$WORK/fig/$STEP.fail" 2>/dev/null || echo "exit code $rc (see run.log)") ;;
  esac
  if [ "$status" = failed ]; then
    failed=1
    STEP=$STEP timeout 40 bash -c '. "$SRC/scripts/lib/gpu-step-lib.sh"; . "$1"; ! declare -F after_failure >/dev/null || after_failure "$2"' \
      _ "$(step_file "$STEP")" "$note" >> "$LOG" 2>&1
  fi
  record "$STEP" "$status" "$took" "$note"
done

n=$(ls -A "$OUT" | wc -l)
(( n <= 8 )) || { say "OUT holds $n files, over the 8 the device tool brings back: $(ls -A "$OUT" | paste -sd' ' -)"; failed=1; }
cat "$OUT/summary.txt" 2>/dev/null
say "done in $((SECONDS - T0))s; results in $OUT"
[ "$OWN_WORK" = 1 ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$WORK"
exit $failed
