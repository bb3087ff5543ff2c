#!/usr/bin/env bash
# Runs the tests tagged device=opencl on a real OpenCL driver: pocl 6 in a Debian 13 chroot (scripts/opencl-chroot.sh,
# docs/opencl.md). Here (Debian 12) no OpenCL device exists, so in the ordinary `dotnet test` run those tests skip.
#
#   scripts/opencl-tests.sh [xunit v3 options…]     e.g. -class "*OpenClForwardTests" -method "*Dump*"
#
# The test executable is built here (Release; a no-op after `dotnet test -c Release`) and run inside the chroot with its
# build folder bound read-only and this machine's .NET runtime bound read-only (the chroot has no .NET of its own), with
# ENGINE_REQUIRE_OPENCL=1 so a missing device fails instead of skipping. pocl keeps the kernels it compiled in the chroot
# (/var/cache/pocl-kernels, by a hash of the OpenCL C and options), so a rerun compiles only what changed. Where the chroot cannot be built (not root, no
# apt, no private mount namespace) the tests are skipped with that reason and the script exits 0 — unless
# ENGINE_REQUIRE_OPENCL=1 is set here too (.ci/run sets it), which makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
command -v dotnet >/dev/null || { echo "opencl-tests: the .NET SDK is needed here (dotnet not on PATH)" >&2; exit 1; }
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")

set +e
bash scripts/opencl-chroot.sh build
rc=$?
set -e
if [ $rc -eq 3 ]; then
  if [ "${ENGINE_REQUIRE_OPENCL:-}" = 1 ]; then echo "opencl-tests: ENGINE_REQUIRE_OPENCL=1, but the pocl chroot cannot be built here (above)" >&2; exit 1; fi
  echo "opencl-tests: skipped: the pocl chroot cannot be built here (reason above); the OpenCL tests did not run"
  exit 0
fi
[ $rc -eq 0 ] || exit $rc

echo "opencl-tests: building the test executable (Release) …"
dotnet build tests/Engine.Tests/Engine.Tests.csproj -c Release -v quiet -nologo > /tmp/opencl-tests-build.$$.log 2>&1 \
  || { tail -30 /tmp/opencl-tests-build.$$.log >&2; rm -f /tmp/opencl-tests-build.$$.log; echo "opencl-tests: build failed" >&2; exit 1; }
rm -f /tmp/opencl-tests-build.$$.log
bin=$root/tests/Engine.Tests/bin/Release/net10.0
[ -x "$bin/Engine.Tests" ] || { echo "opencl-tests: $bin/Engine.Tests not found after the build" >&2; exit 1; }

echo "opencl-tests: running the device=opencl tests in the pocl chroot …"
set +e
bash scripts/opencl-chroot.sh run --ro "$dotnet_root" --ro "$bin" -- \
  /usr/bin/env DOTNET_ROOT="$dotnet_root" ENGINE_REQUIRE_OPENCL=1 POCL_CACHE_DIR=/var/cache/pocl-kernels "$bin/Engine.Tests" -trait device=opencl -noLogo -noColor "$@"
rc=$?
set -e
echo "opencl-tests: done in $((SECONDS - start)) s (exit $rc)"
exit $rc
