#!/usr/bin/env bash
# The test suite as a newcomer runs it: a fresh clone of this checkout's HEAD, an empty HOME, the system's default PATH
# with Chromium, chromedriver and Slurm left out (as on a machine that never installed them), no ENGINE_* settings. It
# must end with no failed test, and every test that cannot run here must be reported as skipped with its reason — the
# browser tests included. .ci/run runs this after the normal suite, so the promise in README.md is checked on every
# submission.
#
#   scripts/newcomer-test.sh [--filter EXPR]
#
# --filter (default: $NEWCOMER_FILTER, else the one below) keeps the run short by leaving out classes that only compute
# (the kernel emulations, the scorer's arithmetic): they do not depend on the machine, and the normal run covers them.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
default_filter=$(printf 'FullyQualifiedName!~NeuronEngine.Tests.%s&' Kernels. Related.RelatedTests Records.DeviceRecordCollectorTests \
  Runtime.KernelCatalogTests Runtime.PrecisionTests Scoring.IlgpuBatchScorerTests)
default_filter=${default_filter%&}
filter=${NEWCOMER_FILTER:-$default_filter}
[ "${1:-}" = --filter ] && { filter=$2; shift 2; }
dotnet=$(command -v dotnet) || { echo "newcomer-test: the .NET SDK is required (dotnet not on PATH)" >&2; exit 1; }
python=$(command -v python3) || { echo "newcomer-test: python3 is required to read the test results" >&2; exit 1; }

work=$(mktemp -d /tmp/engine-newcomer.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q --no-hardlinks "$here" "$work/repo"

# The default PATH of a fresh Debian machine, minus what a newcomer would not have installed.
hidden=' chromium chromium-browser google-chrome chromedriver sbatch srun salloc scontrol scancel squeue sinfo slurmctld slurmd slurmdbd munged munge '
mkdir "$work/bin" "$work/home"
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  [ -d "$dir" ] || continue
  for f in "$dir"/*; do
    name=${f##*/}
    case "$hidden" in *" $name "*) continue ;; esac
    [ -x "$f" ] && [ ! -d "$f" ] && [ ! -e "$work/bin/$name" ] && ln -s "$f" "$work/bin/$name"
  done
done
ln -sf "$dotnet" "$work/bin/dotnet"

cd "$work/repo"
echo "newcomer-test: fresh clone of $(git rev-parse --short HEAD), HOME=$work/home, PATH without Chromium and Slurm"
set +e
# NuGet's package folder is a download cache, not state the tests see: reuse it rather than download every package again.
packages=${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')}
env -i HOME="$work/home" PATH="$work/bin" TMPDIR="${TMPDIR:-/tmp}" LANG=C.UTF-8 \
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 NUGET_PACKAGES="$packages" \
  dotnet test Engine.sln -c Release --filter "$filter" --logger "trx;LogFileName=newcomer.trx" --results-directory "$work/results"
rc=$?
set -e
trx=$(find "$work/results" -name newcomer.trx | head -n 1)
[ -n "$trx" ] || { echo "newcomer-test: no test results (dotnet test exited with $rc)" >&2; exit 1; }
# Every skip must carry its reason, and the tests that need Chromium, Slurm or CUDA must be among the skips here.
"$python" "$here/scripts/lib/check_trx.py" "$trx" --require-skipped ChromiumViewerTests SlurmRecordsTests CudaDeviceTests
echo "newcomer-test: dotnet test exited with $rc"
exit $rc
