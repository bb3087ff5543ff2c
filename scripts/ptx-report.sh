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
python3 - "$work" "$arch" "$ptxas_version" "${device:-offline}" > "$work/report.md" <<'PY'
import csv, math, os, re, sys
work, arch, ptxas_version, source = sys.argv[1:5]
rows = list(csv.DictReader(open(f"{work}/ptx/index.tsv"), delimiter="\t"))

# sm_90 limits (CUDA occupancy calculator / cuda_occupancy.h, compute capability 9.0)
REGS_SM, SUBPARTS, REG_UNIT, THREADS_SM, BLOCKS_SM = 65536, 4, 256, 2048, 32
SMEM_SM, SMEM_RESERVED, SMEM_UNIT, MAX_REGS = 228 * 1024, 1024, 128, 255

def up(x, m): return (x + m - 1) // m * m

def blocks_per_sm(regs, threads, smem):
    """Returns (blocks, limiter, by_regs, by_threads, by_smem)."""
    warps = (threads + 31) // 32
    per_warp = up(max(regs, 1) * 32, REG_UNIT)
    by_regs = 0 if regs > MAX_REGS or per_warp * up(warps, SUBPARTS) > REGS_SM else \
        (REGS_SM // SUBPARTS // per_warp) * SUBPARTS // warps
    by_threads = THREADS_SM // (warps * 32)
    by_smem = SMEM_SM // up(smem + SMEM_RESERVED, SMEM_UNIT)
    limits = {"registers": by_regs, "threads": by_threads, "blocks": BLOCKS_SM, "shared memory": by_smem}
    best = min(limits.values())
    return best, "/".join(k for k, v in limits.items() if v == best), by_regs, by_threads, by_smem

def auto_group(regs, smem):
    """cuOccupancyMaxPotentialBlockSize's choice: the largest group reaching the highest threads per SM."""
    best, size = 0, 32
    for t in range(1024, 0, -32):
        occ = blocks_per_sm(regs, t, smem)[0] * t
        if occ > best: best, size = occ, t
    return size

def ptxas_info(name):
    text = open(f"{work}/asm/{name}.ptxas").read()
    def num(pattern):
        m = re.search(pattern, text)
        return int(m.group(1)) if m else 0
    return dict(regs=num(r"Used (\d+) registers"), stack=num(r"(\d+) bytes stack frame"),
                spill_st=num(r"(\d+) bytes spill stores"), spill_ld=num(r"(\d+) bytes spill loads"),
                smem=num(r"registers, (\d+) bytes smem"))

INSN = re.compile(r"^\s*/\*([0-9a-f]+)\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)\s*([^;]*);")
def sass(name):
    """(address, opcode, operands, predicated) per instruction."""
    insns = []
    for line in open(f"{work}/asm/{name}.sass"):
        m = INSN.match(line)
        if m: insns.append((int(m.group(1), 16), m.group(3), m.group(4), m.group(2) is not None))
    return insns

def width(op):
    for w in ("128", "64", "U16", "S16", "U8", "S8"):
        if "." + w in op: return {"U16": "16", "S16": "16", "U8": "8", "S8": "8"}.get(w, w)
    return "32"

def mix(ops, base):
    counts = {}
    for op in ops:
        if op.split(".")[0] == base:
            key = f"{base}.{width(op)}"
            counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items(), key=lambda kv: -int(kv[0].split(".")[1]))) or "—"

def loops(insns):
    """Every backward branch is a loop [target, branch], with its trip count where the SASS shows one (a counter
    stepped by an immediate and compared with an immediate: loops from 0 to a constant) and the instructions one trip
    executes: walked from the loop's start with conditional forward branches not taken (for the GEMM: a slice inside
    K, rows inside the tile) and unconditional ones followed, nested loops counted once per trip they make."""
    found = []
    for addr, op, args, _ in insns:
        m = re.search(r"0x([0-9a-f]+)", args)
        if op.split(".")[0] == "BRA" and m and int(m.group(1), 16) < addr:
            found.append({"start": int(m.group(1), 16), "end": addr})
    for l in found:
        inner = [c for c in found if c is not l and l["start"] <= c["start"] and c["end"] <= l["end"]]
        l["children"] = [c for c in inner if not any(d is not c and d["start"] <= c["start"] and c["end"] <= d["end"] for d in inner)]
        own = [(o, a) for ad, o, a, _ in insns if l["start"] <= ad <= l["end"] and not o.startswith("NOP")
               and not any(c["start"] <= ad <= c["end"] for c in l["children"])]
        steps = {m.group(1): int(m.group(2), 16) for o, a in own if o == "IADD3"
                 for m in [re.match(r"(R\d+), \1, (0x[0-9a-f]+)", a)] if m}
        bounds = [(m.group(1), int(m.group(2), 16)) for o, a in own if o.startswith("ISETP")
                  for m in [re.match(r"P\d+, PT, (R\d+), (0x[0-9a-f]+)", a)] if m]
        l["trips"] = next((-(-b // steps[r]) for r, b in bounds if r in steps and steps[r] > 0), None)
        l["static"] = [o for ad, o, _, _ in insns if l["start"] <= ad <= l["end"] and not o.startswith("NOP")]
    index = {ad: i for i, (ad, _, _, _) in enumerate(insns)}
    def walk(l, taken=False):
        ops, i = [], index[l["start"]]
        while i < len(insns) and insns[i][0] <= l["end"]:
            ad, op, args, predicated = insns[i]
            child = next((c for c in l["children"] if c["start"] == ad), None)
            if child is not None:
                body = walk(child, taken)
                if body is None or child["trips"] is None: return None
                ops += body * child["trips"]
                i = index[child["end"]] + 1
                continue
            if not op.startswith("NOP"): ops.append(op)
            m = re.search(r"0x([0-9a-f]+)", args)
            if op.split(".")[0] == "BRA" and (taken or not predicated) and m and int(m.group(1), 16) > ad:
                i = index[int(m.group(1), 16)]
                continue
            i += 1
        return ops
    for l in found:
        l["per_trip"] = walk(l)
        l["per_trip_taken"] = walk(l, taken=True)
    return found

def share(ops, key="FFMA"): return sum(o.split(".")[0] == key for o in ops), len(ops)

out = []
w = out.append
first = open(f"{work}/ptx/{rows[0]['file']}").read().splitlines()
generator = next((l.strip("/ ").strip() for l in first if "Generated by" in l), "ILGPU")
lowered = sorted(f[:-len('.lowered')] for f in os.listdir(f"{work}/asm") if f.endswith(".lowered"))
w("# PTX report\n")
w("Generated by `scripts/ptx-report.sh` (do not edit by hand; rerun it whenever a kernel or the catalogue changes).")
w(f"PTX: `engine ptx` ({'loaded on the CUDA device' if source == 'cuda' else 'offline'}; {generator}; "
  f"PTX ISA {rows[0]['ptx_isa']}, `.target {rows[0]['ptx_target']}`), one file per entry of "
  "`src/Engine.Runtime/KernelCatalog.cs`, compiled exactly as the runtime loads it.")
w(f"Assembled with `ptxas -arch={arch} -v` ({ptxas_version}); SASS from `cuobjdump -sass`.")
if lowered: w(f"\nPTX `.version` lowered to what this ptxas reads for: {', '.join(lowered)}.")
w("\n## Blocks per SM\n")
w(f"Computed for {arch} as `cuda_occupancy.h` does: blocks/SM = min(by registers, by threads, 32, by shared memory) with")
w("- registers: regs/warp = ⌈regs·32 / 256⌉·256; by registers = ⌊⌊65536 / 4 / (regs/warp)⌋ · 4 / warps per block⌋ "
  "(registers are allocated per warp inside each of the 4 sub-partitions; 0 if the block does not fit);")
w("- threads: ⌊2048 / (32 · warps per block)⌋;")
w("- shared memory: ⌊233472 (228 KB) / ⌈static + dynamic + 1024 reserved, to 128 B⌉⌋.")
w("\nGroup size and dynamic shared memory are those of the reported launch in the catalogue (GPT-2 small); "
  "auto-grouped kernels get the group size cuOccupancyMaxPotentialBlockSize would pick (the largest reaching the best "
  "threads per SM)" + (", here the one ILGPU chose on the device." if source == "cuda" else "."))
if source == "cuda":
    w("`ILGPU blocks/SM` is `EstimateMaxActiveGroupsPerMultiprocessor` on the device; `driver regs`/`driver local` are "
      "cuFuncGetAttribute of the module the driver built from the same PTX.")

w("\n## Kernels\n")
head = "| kernel | grouping | .maxntid / .minnctapersm | group | registers | spill st/ld (B) | stack (B) | shared static + dynamic (B) | blocks/SM | limited by | warps/SM |"
if source == "cuda": head += " ILGPU blocks/SM | driver regs | driver local (B) |"
w(head)
w("|" + "---|" * (head.count("|") - 1))
gemms, tensor_gemms = [], []
for r in rows:
    p = ptxas_info(r["name"])
    dyn = int(r["dynamic_shared_bytes"] or 0)
    group = int(r["group_size"]) if r["group_size"] else auto_group(p["regs"], p["smem"] + dyn)
    b, limiter, *_ = blocks_per_sm(p["regs"], group, p["smem"] + dyn)
    bounds = f"{r['maxntid'] or '—'} / {r['minnctapersm'] or '—'}"
    group_text = f"{group}" + ("" if r["group_size"] else " (auto)")
    line = (f"| `{r['name']}` | {r['grouping']} | {bounds} | {group_text} | {p['regs']} | {p['spill_st']}/{p['spill_ld']} | "
            f"{p['stack']} | {p['smem']} + {dyn} | {b} | {limiter} | {b * ((group + 31) // 32)} |")
    if source == "cuda":
        line += f" {r['cuda_blocks_per_sm'] or '—'} | {r['cuda_registers'] or '—'} | {r['cuda_local_bytes'] or '—'} |"
    w(line)
    if r["name"].startswith("GemmKernel."): gemms.append(r["name"])
    if r["name"].startswith("TensorCoreGemmKernel."): tensor_gemms.append(r["name"])

def loop_rows(name, key):
    """Rows of the loop table of one GEMM: its innermost loop holding `key` instructions (FFMA or HMMA), the K loop
    per trip, and the whole kernel."""
    insns = sass(name)
    found = loops(insns)
    with_key = [l for l in found if share(l["static"], key)[0]]
    if not with_key:
        w(f"| `{name}` | no loop with {key} | | | | | | | | |")
    rows_out = []
    innermost = min((l for l in with_key if not l["children"]), key=lambda l: l["end"] - l["start"], default=None)
    outer = max(with_key, key=lambda l: l["end"] - l["start"], default=None)
    if key == "HMMA" and innermost and innermost is outer and innermost["per_trip_taken"]:
        # The tensor-core GEMMs run one loop over k-steps, staging a slice at every 4th (a forward branch skips it).
        staging, plain = innermost["per_trip"], innermost["per_trip_taken"]
        rows_out.append(("k-step loop, staging trip (1st of a slice)", staging))
        rows_out.append(("k-step loop, other trips (3 of a slice)", plain))
        rows_out.append(("per K slice (1 + 3 trips)", staging + plain * 3))
    elif innermost: rows_out.append((f"inner loop ({innermost['trips'] or '?'} trips)", innermost["per_trip"]))
    if outer and outer is not innermost:
        rows_out.append(("K loop, per trip", outer["per_trip"]) if outer["per_trip"] else
                        ("K loop (static, nested loops once)", outer["static"]))
    rows_out.append(("whole kernel, static", [o for _, o, _, _ in insns if not o.startswith("NOP")]))
    for label, ops in rows_out:
        f, n = share(ops, key)
        pct = f"{100 * f / n:.1f}%" if not label.startswith("whole") else ""
        extra = f" {sum(o.split('.')[0] == 'MOV' for o in ops)} |" if key == "HMMA" else ""
        w(f"| `{name}` | {label} | {n} | {f} | {pct} |{extra} {mix(ops, 'LDG')} | {mix(ops, 'LDS')} | {mix(ops, 'STS')} | "
          f"{sum(o.split('.')[0] == 'BAR' for o in ops)} |")

if gemms:
    w("\n## GEMM loops (SASS)\n")
    w("Every backward branch is a loop. `inner loop`: the innermost loop holding FFMAs. `K loop, per trip`: the "
      "outermost one (one K slice per trip) as a multiprocessor executes it for a slice inside K and inside the tile: "
      "walked with conditional forward branches not taken, nested loops counted as many times as they run (trip counts "
      "read from their constant bounds). This per-slice figure is what bounds the kernel. FFMA share = FFMA / all "
      "instructions (NOPs excluded). Load widths in bits: LDG.128 = `LDG.E.128`, LDG.32 = `LDG.E`, LDS.128 = "
      "`LDS.128`.\n")
    w("| kernel | loop | instructions | FFMA | FFMA share | global loads | shared loads | shared stores | BAR |")
    w("|---|---|---|---|---|---|---|---|---|")
    for name in gemms:
        loop_rows(name, "FFMA")

if tensor_gemms:
    w("\n## Tensor-core GEMM loops (SASS)\n")
    w("The same walk for the tensor-core GEMMs (`--precision tf32|bf16`), keyed on the tensor-core instruction: "
      "`HMMA.1688.F32.TF32` (mma.sync m16n8k8, TF32) or `HMMA.16816.F32.BF16` (m16n8k16, bf16). The kernel is one loop "
      "over k-steps (one k-step of a warp: 16 mma); the first of every 4 stages the next K slice (32 k for TF32, 64 for "
      "bf16: loads, rounding/packing, 128-bit stores, two barriers), the others skip it: `staging trip` walks the loop "
      "with conditional forward branches not taken, `other trips` with them taken, and `per K slice` is one of the first "
      "plus three of the second. HMMA share = HMMA / all instructions; MOV = register moves.\n")
    w("| kernel | loop | instructions | HMMA | HMMA share | MOV | global loads | shared loads | shared stores | BAR |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for name in tensor_gemms:
        loop_rows(name, "HMMA")
print("\n".join(out))
PY
cp "$work/report.md" "$out"
note "wrote $out"
