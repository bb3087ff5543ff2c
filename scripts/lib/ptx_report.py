#!/usr/bin/env python3
"""The report half of scripts/ptx-report.sh (Python's standard library only: it also runs on the GPU box).

  ptx_report.py report WORK ARCH PTXAS_VERSION SOURCE   Markdown on stdout from WORK/ptx/index.tsv (engine ptx),
                                                        WORK/asm/NAME.ptxas (ptxas -v) and WORK/asm/NAME.sass
  ptx_report.py ptxas-info FILE                          what ptxas_info reads from one `ptxas -v` output, as JSON
"""
import csv, json, os, re, sys

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

def ptxas_info(text):
    """What `ptxas -v` says of the first entry function in its output: registers, spill stores/loads, stack frame,
    static shared memory, barriers. The "Used" line has two formats:
      ptxas 11.x–12.5:  Used 122 registers, 33280 bytes smem, 400 bytes cmem[0]
      newer ptxas:      Used 122 registers, used 1 barriers, 33280 bytes smem, 400 bytes cmem[0]
    so the fields after the registers are read by name (a missing smem field means none). Fields not recognised are
    listed in "unread"; an output without an entry function or its "Used" line raises ValueError."""
    entry = re.search(r"Compiling entry function '([^']+)'", text)
    if not entry:
        raise ValueError("no 'Compiling entry function' line in the ptxas output")
    name, block = entry.group(1), text[entry.end():]
    nxt = re.search(r"Compiling entry function '", block)
    block = block[:nxt.start()] if nxt else block
    used = re.search(r"Used (\d+) registers([^\n]*)", block)
    if not used:
        raise ValueError(f"no 'Used N registers' line for {name} in the ptxas output")
    info = dict(entry=name, regs=int(used.group(1)), smem=0, barriers=None, stack=0, spill_st=0, spill_ld=0, unread=[])
    for field in filter(None, (f.strip() for f in used.group(2).split(","))):
        for pattern, key in ((r"used (\d+) barriers", "barriers"), (r"(\d+) bytes smem", "smem"),
                             (r"(\d+) bytes cmem\[\d+\]", None), (r"(\d+) bytes cumulative stack size", None)):
            m = re.fullmatch(pattern, field)
            if m:
                if key: info[key] = int(m.group(1))
                break
        else:
            info["unread"].append(field)
    props = re.search(rf"Function properties for {re.escape(name)}\s*\n\s*(\d+) bytes stack frame, (\d+) bytes spill stores, "
                      r"(\d+) bytes spill loads", text)
    if props:
        info.update(stack=int(props.group(1)), spill_st=int(props.group(2)), spill_ld=int(props.group(3)))
    return info

INSN = re.compile(r"^\s*/\*([0-9a-f]+)\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)\s*([^;]*);")
def sass(path):
    """(address, opcode, operands, predicated) per instruction of `cuobjdump -sass` output."""
    insns = []
    for line in open(path):
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


def report(work, arch, ptxas_version, source):
    rows = list(csv.DictReader(open(f"{work}/ptx/index.tsv"), delimiter="\t"))
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
        p = ptxas_info(open(f"{work}/asm/{r['name']}.ptxas").read())
        if p["unread"]: print(f"ptx-report: {r['name']}: ptxas fields not read: {p['unread']}", file=sys.stderr)
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
        insns = sass(f"{work}/asm/{name}.sass")
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
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "report":
        print(report(*sys.argv[2:6]))
    elif len(sys.argv) == 3 and sys.argv[1] == "ptxas-info":
        try:
            print(json.dumps(ptxas_info(open(sys.argv[2]).read())))
        except ValueError as e:
            sys.exit(f"ptx_report: {sys.argv[2]}: {e}")
    else:
        sys.exit(__doc__)
