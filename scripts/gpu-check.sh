#!/usr/bin/env bash
# The prepared GPU-box check (run from the repository root on a machine with an NVIDIA GPU and the .NET 10 SDK):
# build, run the whole test suite (CUDA tests run when a device is found), `engine bench` at batch 64/256/512 ×
# 64 tokens on synthetic gpt2, and the GEMM (ours vs cuBLAS) and forward BenchmarkDotNet suites.
# Results go under ${OUT:-out/gpu-check}/.
set -uo pipefail
out="${OUT:-out/gpu-check}"
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 ENGINE_CACHE="${ENGINE_CACHE:-$PWD/out/cache}"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
dotnet build Engine.sln -c Release > "$out/build.txt" 2>&1 || { tail -30 "$out/build.txt"; exit 1; }
dotnet test Engine.sln -c Release --no-build --logger "console;verbosity=normal" > "$out/tests.txt" 2>&1
tail -5 "$out/tests.txt"
engine="dotnet src/Engine.Cli/bin/Release/net10.0/engine.dll"
$engine info --preset gpt2 > "$out/info.txt" 2>&1
for b in 64 256 512; do
  $engine bench --preset gpt2 --device cuda --batch "$b" --seq-len 64 --iterations 10 --json > "$out/bench-gpt2-b$b.json" 2>> "$out/bench.err"
  cat "$out/bench-gpt2-b$b.json"; echo
done
dotnet run -c Release --project benchmarks/Engine.Benchmarks -- --filter '*Gemm*' '*Forward*' '*Scor*' --job short \
  --artifacts "$out/bdn" > "$out/benchmarks.txt" 2>&1
grep -E "^\|" "$out/benchmarks.txt" | tail -40
