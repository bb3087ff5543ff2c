#!/usr/bin/env bash
# Builds the GPU bundle here, for a GPU box that has a driver, CUDA and Python but no .NET and no network.
#
#   scripts/gpu-pack.sh            → out/gpu/engine-gpu-bundle.tar.xz + out/gpu/gpu-run.sh (≤ 45 MiB together)
#
# `engine`, the test executable (xunit v3) and the benchmarks are published self-contained for linux-x64 into one
# folder, so they share one runtime (no trimming and no AOT: ILGPU breaks under both). Binaries that no *.deps.json
# refers to are pruned. The scripts the box runs (gpu-run.sh and its steps, ptx-report.sh, the PyTorch anchor) go inside. Before
# it says "ready", the unpacked bundle is smoke-tested with no `dotnet` reachable (scripts/lib/without-dotnet.sh).
#
# Carry out/gpu to the box and run `bash out/gpu/gpu-run.sh` there (README: "Running on a GPU box").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${PACK_OUT:-$root/out/gpu}
stage=$(mktemp -d "${TMPDIR:-/tmp}/engine-pack.XXXXXX")
trap 'rm -rf "$stage"' EXIT
bundle=$stage/bundle
start=$SECONDS
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
command -v dotnet >/dev/null || { echo "gpu-pack: the .NET SDK is needed here (dotnet not on PATH)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "gpu-pack: python3 is needed here (to prune the bundle)" >&2; exit 1; }

echo "gpu-pack: publishing engine, tests and benchmarks (self-contained linux-x64) …"
for project in src/Engine.Cli/Engine.Cli.csproj tests/Engine.Tests/Engine.Tests.csproj benchmarks/Engine.Benchmarks/Engine.Benchmarks.csproj; do
  # English only (no satellite folders); the projects' own settings otherwise.
  dotnet publish "$project" -c Release -r linux-x64 --self-contained true -p:PublishTrimmed=false \
    -p:SatelliteResourceLanguages=en -o "$bundle" -v quiet -nologo > "$stage/publish.log" 2>&1 \
    || { tail -40 "$stage/publish.log" >&2; echo "gpu-pack: dotnet publish $project failed" >&2; exit 1; }
done
python3 scripts/lib/prune-bundle.py "$bundle" | tail -1

# What the box runs besides the binaries, laid out as in the repository (gpu-run.sh reads the repository's own copy
# first when the working tree travelled with the bundle): the runner, its steps and helpers, the PyTorch anchor.
mkdir -p "$bundle/scripts/lib" "$bundle/scripts/gpu-steps" "$bundle/benchmarks/anchors"
cp scripts/gpu-run.sh scripts/ptx-report.sh "$bundle/scripts/"
cp scripts/gpu-steps/*.sh "$bundle/scripts/gpu-steps/"
cp scripts/lib/*.py scripts/lib/*.sh "$bundle/scripts/lib/"
cp benchmarks/anchors/*.py "$bundle/benchmarks/anchors/"
git rev-parse HEAD > "$bundle/COMMIT" 2>/dev/null || echo unknown > "$bundle/COMMIT"
git status --porcelain 2>/dev/null | grep -q . && echo "dirty" >> "$bundle/COMMIT"
echo "gpu-pack: bundle is $(du -sh "$bundle" | cut -f1) unpacked"

echo "gpu-pack: compressing (xz -9) …"
mkdir -p "$out"
archive=$out/engine-gpu-bundle.tar.xz
tar -C "$stage" -cf - bundle | xz -9 -T0 > "$archive.tmp"
mv "$archive.tmp" "$archive"
cp scripts/gpu-run.sh "$out/gpu-run.sh"
size=$(stat -c %s "$archive")
limit=$((45 * 1024 * 1024))
(( size <= limit )) || { echo "gpu-pack: the archive is $((size >> 20)) MiB, over the 45 MiB limit" >&2; exit 1; }

echo "gpu-pack: smoke test of the unpacked archive with no dotnet …"
check=$stage/check
mkdir -p "$check/home"
tar -C "$check" -xJf "$archive"
# The smoke test: the apphosts start, the tests find their data beside the test assembly, BenchmarkDotNet lists.
smoke='set -e
cd "$1/bundle"
./engine --help > /dev/null
./engine info --preset gpt2 2>/dev/null | grep -q "^devices:"
./Engine.Tests -list classes -noLogo | grep -q GemmKernelTests
./Engine.Tests -class "*PromptGoldenTests" -noLogo -noColor > "$1/tests.txt" 2>&1 || { cat "$1/tests.txt" >&2; exit 1; }
./Engine.Benchmarks --list flat | grep -q GemmBenchmarks
(cd / && bash "$1/bundle/scripts/gpu-run.sh" --list) | grep -q "^canary "'
ENGINE_CACHE="${ENGINE_CACHE:-$HOME/.cache/neuron-engine}" HOME="$check/home" scripts/lib/without-dotnet.sh bash -c "$smoke" smoke "$check"
echo "gpu-pack: ready in $((SECONDS - start)) s: $archive ($((size >> 20)) MiB) and $out/gpu-run.sh"
echo "gpu-pack: on the box: bash scripts/gpu-run.sh (or out/gpu/gpu-run.sh)   (OUT=… for results; STEPS=…; see its header)"
