#!/usr/bin/env bash
# Offline ptxas report of every kernel the runtime loads (src/Engine.Runtime/KernelCatalog.cs), written as Markdown.
#
#   scripts/ptx-report.sh [--engine PATH_TO_ENGINE_EXECUTABLE] [--ptxas PATH] [--cuobjdump PATH] [--device cuda] [--out FILE]
#
# 1. `engine ptx` writes one .ptx per catalogued kernel, compiled exactly as it is loaded (entry point, generic
#    instantiation, KernelSpecialization): offline by ILGPU's PTX backend, or with --device cuda by the CUDA
#    accelerator itself (then the index also carries the driver's occupancy and register count).
# 2. ptxas -arch=sm_90 -v per kernel: registers, spills, stack, static shared memory; blocks per SM from the sm_90
#    limits (formula in the report); cuobjdump -sass for the GEMMs: FFMA share of the loops, load widths.
#
# Defaults: engine = src/Engine.Cli/bin/Release/net10.0/engine, rebuilt first when the .NET SDK is here (so the report
# follows the sources); ptxas/cuobjdump = Debian bookworm's nvidia-cuda-toolkit 11.8 (non-free), downloaded once with a
# private apt configuration (nothing installed, /etc untouched) and unpacked under
# $ENGINE_CACHE (else $XDG_CACHE_HOME/neuron-engine, else ~/.cache/neuron-engine)/cuda-toolkit-11.8, as the engine's own
# cache; out = docs/ptx-report.md.
# ptxas 11.8 reads PTX ISA <= 7.8, so offline compiles ask the engine for the newest ISA the given ptxas reads (7.8 for
# 11.8, ILGPU's newest, 8.8, for CUDA >= 12.9). PTX from --device cuda is passed through unchanged unless its ISA is
# newer than the ptxas reads; then its .version line is lowered and the report says so.
# Environment: PTX_REPORT_ARCH (default sm_90).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
engine="" ptxas="" cuobjdump="" device="" out="$repo/docs/ptx-report.md"
arch="${PTX_REPORT_ARCH:-sm_90}"

die() { echo "ptx-report: error: $*" >&2; exit 2; }
note() { echo "ptx-report: $*" >&2; }
usage() { sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^#   //'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --engine) [ $# -ge 2 ] || die "--engine needs a path"; engine="$2"; shift 2 ;;
    --ptxas) [ $# -ge 2 ] || die "--ptxas needs a path"; ptxas="$2"; shift 2 ;;
    --cuobjdump) [ $# -ge 2 ] || die "--cuobjdump needs a path"; cuobjdump="$2"; shift 2 ;;
    --device) [ $# -ge 2 ] || die "--device needs a value (cuda)"; device="$2"; shift 2
              [ "$device" = cuda ] || die "--device: only 'cuda' is supported (omit it to compile offline)" ;;
    --out) [ $# -ge 2 ] || die "--out needs a file"; out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
command -v python3 >/dev/null || die "python3 is needed to parse ptxas and cuobjdump output"

# --- ptxas and cuobjdump ------------------------------------------------------------------------------------------
cache="${ENGINE_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/neuron-engine}"
toolkit="$cache/cuda-toolkit-11.8"
fetch_toolkit() {
  [ -x "$toolkit/usr/bin/ptxas" ] && [ -x "$toolkit/usr/bin/cuobjdump" ] && return 0
  command -v apt-get >/dev/null && command -v dpkg >/dev/null \
    || die "no --ptxas given and apt-get/dpkg are missing to fetch Debian's nvidia-cuda-toolkit 11.8"
  local work; work="$(mktemp -d)"
  note "downloading Debian's nvidia-cuda-toolkit 11.8 (84 MB, once) into $toolkit"
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm contrib non-free" \
    > "$work/sources.list"
  local apt=(apt-get -q -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent
             -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
  "${apt[@]}" update >"$work/apt.log" 2>&1 || { tail -5 "$work/apt.log" >&2; die "apt-get update of bookworm contrib non-free failed"; }
  (cd "$work" && "${apt[@]}" download nvidia-cuda-toolkit >>"$work/apt.log" 2>&1) \
    || { tail -5 "$work/apt.log" >&2; die "apt-get download nvidia-cuda-toolkit failed"; }
  rm -rf "$toolkit.partial"; mkdir -p "$toolkit.partial"
  dpkg -x "$work"/nvidia-cuda-toolkit_*.deb "$toolkit.partial" || die "dpkg -x of the toolkit failed"
  rm -rf "$toolkit"; mv "$toolkit.partial" "$toolkit"; rm -rf "$work"
}
if [ -z "$ptxas" ]; then fetch_toolkit; ptxas="$toolkit/usr/bin/ptxas"; fi
if [ -z "$cuobjdump" ]; then
  if [ -x "$(dirname "$ptxas")/cuobjdump" ]; then cuobjdump="$(dirname "$ptxas")/cuobjdump"
  elif command -v cuobjdump >/dev/null; then cuobjdump="$(command -v cuobjdump)"
  else fetch_toolkit; cuobjdump="$toolkit/usr/bin/cuobjdump"; fi
fi
[ -x "$ptxas" ] || die "ptxas '$ptxas' is not an executable"
[ -x "$cuobjdump" ] || die "cuobjdump '$cuobjdump' is not an executable"
ptxas_release="$("$ptxas" --version | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -1)"
[ -n "$ptxas_release" ] || die "cannot read the CUDA release from '$ptxas --version'"
# Newest PTX ISA each ptxas reads (CUDA release notes), capped at ILGPU 1.5.3's newest, 8.8.
case "$ptxas_release" in
  11.8) max_isa=7.8 ;; 12.0) max_isa=8.0 ;; 12.1) max_isa=8.1 ;; 12.2) max_isa=8.2 ;; 12.3) max_isa=8.3 ;;
  12.4) max_isa=8.4 ;; 12.5|12.6) max_isa=8.5 ;; 12.8) max_isa=8.7 ;;
  *) if [ "${ptxas_release%%.*}" -ge 13 ] || [ "$ptxas_release" = 12.9 ]; then max_isa=8.8
     else die "ptxas $ptxas_release: unknown PTX ISA support (11.8 or 12.0+ expected)"; fi ;;
esac

# --- the engine ---------------------------------------------------------------------------------------------------
if [ -z "$engine" ]; then
  engine="$repo/src/Engine.Cli/bin/Release/net10.0/engine"
  if command -v dotnet >/dev/null; then
    note "building src/Engine.Cli (Release)"
    dotnet build "$repo/src/Engine.Cli" -c Release -nologo -v q >&2 || die "dotnet build src/Engine.Cli failed"
  fi
  [ -x "$engine" ] || die "no engine at $engine and no .NET SDK to build it; pass --engine PATH"
fi
[ -e "$engine" ] || die "engine '$engine' not found"
run_engine() { if [[ "$engine" == *.dll ]]; then dotnet "$engine" "$@"; else "$engine" "$@"; fi; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ "$device" = cuda ]; then
  run_engine ptx --out "$work/ptx" --device cuda >&2 || die "engine ptx --device cuda failed"
else
  run_engine ptx --out "$work/ptx" --isa "$max_isa" --arch "$arch" >&2 || die "engine ptx failed"
fi
[ -s "$work/ptx/index.tsv" ] || die "engine ptx wrote no index.tsv"

# --- ptxas and SASS per kernel ------------------------------------------------------------------------------------
mkdir -p "$work/asm"
while IFS=$'\t' read -r name file _; do
  src="$work/ptx/$file"
  isa="$(sed -n 's/^\s*\.version \([0-9.]*\).*/\1/p' "$src" | head -1)"
  if python3 -c "import sys; sys.exit(0 if float('$isa') > float('$max_isa') else 1)"; then
    sed -i "s/^\(\s*\)\.version .*/\1.version $max_isa/" "$src"
    echo "$isa" > "$work/asm/$name.lowered"
  fi
  "$ptxas" -arch="$arch" -v "$src" -o "$work/asm/$name.cubin" > "$work/asm/$name.ptxas" 2>&1 \
    || { cat "$work/asm/$name.ptxas" >&2; die "ptxas failed on $name"; }
  case "$name" in GemmKernel.*|TensorCoreGemmKernel.*) "$cuobjdump" -sass "$work/asm/$name.cubin" > "$work/asm/$name.sass" \
    || die "cuobjdump failed on $name" ;; esac
done < <(tail -n +2 "$work/ptx/index.tsv")

mkdir -p "$(dirname "$out")"
ptxas_version="$("$ptxas" --version | tail -1)"
# Parsing and the report itself: scripts/lib/ptx_report.py (both formats of ptxas' "Used …" line; tested).
python3 "$repo/scripts/lib/ptx_report.py" report "$work" "$arch" "$ptxas_version" "${device:-offline}" > "$work/report.md" \
  || die "the report failed (ptx_report.py)"
cp "$work/report.md" "$out"
note "wrote $out"
