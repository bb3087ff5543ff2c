#!/usr/bin/env python3
"""Helpers of scripts/gpu-run.sh (Python's standard library only: the GPU box has no .NET and no network).

  gpu_figures.py make-corpus FILE TOKENS          an llm.c token file of seeded random GPT-2 tokens
  gpu_figures.py make-simulations DIR FILES       OpenAI-layout NeuronSimulationResults (10 sequences × 64 tokens)
  gpu_figures.py check-bdn ARTIFACTS_DIR          fails unless BenchmarkDotNet measured at least one case
  gpu_figures.py report FIG_DIR OUT_DIR DRY       figures.json + summary.txt from what the steps left in FIG_DIR
"""
import glob, json, os, random, re, struct, sys, time
import xml.etree.ElementTree as ET

OPENAI_WINDOWS, OPENAI_NEURONS_XL = 50_000, 307_200
# GPT-2's MLP GEMMs at 4096 tokens (small: up and down; XL: up): where the tensor-core target (>= 0.7x torch) is read.
MLP_SHAPES = [(4096, 768, 3072), (4096, 3072, 768), (4096, 1600, 6400)]


def make_corpus(path, tokens):
    """llm.c .bin: 256 int32 header (magic 20240520, version 1, token count), then uint16 tokens."""
    rng = random.Random(20240520)
    tokens = int(tokens)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, tokens, *([0] * 253)))
        chunk = 1 << 16
        for start in range(0, tokens, chunk):
            n = min(chunk, tokens - start)
            f.write(struct.pack(f"<{n}H", *(rng.randrange(50257) for _ in range(n))))
    os.replace(path + ".tmp", path)


def make_simulations(folder, files):
    """OpenAI's explanations/{layer}/{neuron}.jsonl: 5 top then 5 random sequences of 64 tokens, simulator values 0–10."""
    rng = random.Random(7)
    per_layer = 6400
    for i in range(int(files)):
        layer, neuron = divmod(i, per_layer)
        sequences = []
        for s in range(10):
            true = [round(rng.random() * 3 if rng.random() < (0.3 if s < 5 else 0.05) else -rng.random() * 0.17, 4) for _ in range(64)]
            expected = [min(10.0, max(0.0, round(3 * t + rng.random() - 0.5, 2))) for t in true]
            sequences.append({
                "dataclass_name": "ScoredSequenceSimulation",
                "simulation": {"dataclass_name": "SequenceSimulation", "tokens": [f" t{j}" for j in range(64)],
                               "expected_activations": expected, "activation_scale": "simulated_normalized_activations",
                               "distribution_values": [[0, 1, 2, 10] for _ in range(64)],
                               "distribution_probabilities": [[0.7, 0.1, 0.1, 0.1] for _ in range(64)]},
                "true_activations": true, "ev_correlation_score": None, "rsquared_score": None,
                "absolute_dev_explained_score": None})
        result = {"dataclass_name": "NeuronSimulationResults",
                  "neuron_id": {"dataclass_name": "NeuronId", "layer_index": layer, "neuron_index": neuron},
                  "scored_explanations": [{"dataclass_name": "ScoredExplanation", "explanation": "synthetic",
                                           "scored_simulation": {"dataclass_name": "ScoredSimulation",
                                                                 "scored_sequence_simulations": sequences,
                                                                 "ev_correlation_score": None, "rsquared_score": None,
                                                                 "absolute_dev_explained_score": None}}]}
        d = os.path.join(folder, str(layer))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{neuron}.jsonl"), "w") as f:
            f.write(json.dumps(result, separators=(",", ":")) + "\n")


def bdn_cases(folder):
    """[(type, case parameter, mean ns)] from BenchmarkDotNet's JSON reports under folder/results."""
    cases = []
    for path in glob.glob(os.path.join(folder, "results", "*-report*.json")):
        with open(path) as f:
            report = json.load(f)
        for b in report.get("Benchmarks", []):
            stats = b.get("Statistics") or {}
            if stats.get("Mean") is None:
                continue
            case = re.sub(r"^\w+=", "", b.get("Parameters") or "") or b.get("Method")
            cases.append((b.get("Type"), case, stats["Mean"]))
    return cases


def check_bdn(folder):
    cases = bdn_cases(folder)
    if not cases:
        sys.exit(f"BenchmarkDotNet measured nothing (no statistics in {folder}/results): see its output above")
    print(f"BenchmarkDotNet measured {len(cases)} case(s)")


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def load_json(path):
    text = read(path)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def steps(fig):
    """{step: {status, seconds, note[, notes]}} in the order of the plan: finished steps from steps.tsv, the one
    running (running.txt: name, started at, limit), and those not reached yet ("pending")."""
    result = {}
    for line in (read(os.path.join(fig, "steps.tsv"), "") or "").splitlines():
        name, status, seconds, note = (line.split("\t") + [""] * 4)[:4]
        result[name] = {"status": status, "seconds": int(seconds or 0), "note": note}
    running = (read(os.path.join(fig, "running.txt"), "") or "").strip().split("\t")
    if len(running) == 3:
        result[running[0]] = {"status": "running", "seconds": 0,
                              "note": f"since {running[1]}s of the run, limit {running[2]}s (cut or killed if this is the last word)"}
    for name in (read(os.path.join(fig, "plan.txt"), "") or "").strip().split(","):
        if name and name not in result:
            result[name] = {"status": "pending", "seconds": 0, "note": "not reached"}
    for name, entry in result.items():
        notes = (read(os.path.join(fig, f"{name}.note"), "") or "").strip().splitlines()
        if notes:
            entry["notes"] = notes
    return result


def report(fig, out, dry):
    dry = dry == "1"
    figures = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "dry_run": dry,
               "commit": (read(os.path.join(os.environ.get("B", ""), "COMMIT"), "") or "").split()}
    figures["steps"] = steps(fig)

    machine = {"gpu": (read(os.path.join(fig, "gpu.csv"), "") or "").strip() or None,
               "torch": ((read(os.path.join(fig, "torch-version.txt"), "") or "").strip().splitlines() or [None])[-1],
               "cuda_missing": (read(os.path.join(fig, "cuda-missing"), "") or "").strip() or None}
    info = read(os.path.join(fig, "info.txt"), "") or ""
    machine["engine_devices"] = [l.strip() for l in info.split("devices:", 1)[-1].splitlines() if l.strip()] if "devices:" in info else []
    figures["machine"] = machine

    xml = os.path.join(fig, "tests.xml")
    if os.path.exists(xml):
        a = ET.parse(xml).getroot().find("assembly")
        if a is not None:
            figures["cuda_tests"] = {k: int(a.get(k, 0)) for k in ("total", "passed", "failed", "skipped")}

    bench = []
    for path in sorted(glob.glob(os.path.join(fig, "bench-*.json"))):
        b = load_json(path)
        if b:
            bench.append({k: b.get(k) for k in ("model", "device", "device_name", "batch", "seq_len", "tokens_per_second",
                                                 "gflops", "percent_of_peak", "percent_of_precision_peak")}
                         | {"precision": b.get("precision", "fp32"), "layer_ms": [l["ms"] for l in b.get("layers", [])]})
    figures["bench"] = bench

    effect = {}
    for path in sorted(glob.glob(os.path.join(fig, "precision-*.json"))):
        e = load_json(path)
        if e:
            effect[e.get("model") or os.path.basename(path)] = {
                "windows": e.get("windows"), "device": e.get("device"),
                "reference_max_abs_activation": e.get("reference_max_abs_activation"),
                "reference_p999_abs_activation": e.get("reference_p999_abs_activation"),
                "precisions": {p["precision"]: {k: p.get(k) for k in ("max_abs_diff", "p999_abs_diff", "identical_top_sets",
                                                                     "mean_top_overlap", "max_activation_change_max")}
                               for p in e.get("precisions", [])}}
    figures["precision_effect"] = effect

    torch = load_json(os.path.join(fig, "torch.json"))
    ratios = {}
    if torch:
        figures["torch"] = torch
        engine_gpt2 = {(b["precision"], b["batch"]): b["tokens_per_second"] for b in bench
                       if "gpt2-seed" in (b["model"] or "") and b["seq_len"] == torch["throughput"][0]["seq_len"]}
        ratios["engine_over_torch_tokens_per_second"] = {
            f"{t.get('precision', 'fp32')} {t['batch']}": engine_gpt2[(t.get("precision", "fp32"), t["batch"])] / t["tokens_per_second"]
            for t in torch.get("throughput", []) if (t.get("precision", "fp32"), t["batch"]) in engine_gpt2}

    gemm = []
    for type_, case, mean in bdn_cases(os.path.join(os.path.dirname(fig), "bdn-gemm")):
        parts = case.split("/")
        if len(parts) == 3:
            m, k, n = (int(x) for x in parts[2].split("x"))
            gemm.append({"device": parts[0], "impl": parts[1], "m": m, "k": k, "n": n, "ms": mean / 1e6,
                         "tflops": 2 * m * k * n / (mean / 1e9) / 1e12})
    figures["gemm"] = gemm
    by = {(g["impl"], g["m"], g["k"], g["n"]): g["ms"] for g in gemm if g["device"] == "cuda"}
    torch_mm = {(g["m"], g["k"], g["n"]): g["ms"] for g in (torch or {}).get("gemm", []) if g.get("precision", "fp32") == "fp32"}
    torch_tc = {(g["precision"], g["m"], g["k"], g["n"]): g["ms"] for g in (torch or {}).get("gemm", []) if g.get("precision", "fp32") != "fp32"}
    ratios["gemm_tensor_core_throughput_over_torch_matmul"] = {
        f"{prec} {m}x{k}x{n}": ms / by[(prec, m, k, n)] for (prec, m, k, n), ms in torch_tc.items() if (prec, m, k, n) in by}
    mlp = {key: v for key, v in ratios["gemm_tensor_core_throughput_over_torch_matmul"].items()
           if tuple(int(x) for x in key.split()[1].split("x")) in MLP_SHAPES}
    if mlp:
        figures["targets"] = {"tensor_core_gemm_over_torch_at_mlp_shapes_min": min(mlp.values()),
                              "tensor_core_gemm_over_torch_target": 0.7}
    ratios["gemm_ours_throughput_over_cublas"] = {f"{m}x{k}x{n}": ms / by[("ours", m, k, n)]
                                                  for (impl, m, k, n), ms in by.items() if impl == "cublas" and ("ours", m, k, n) in by}
    ratios["gemm_ours_throughput_over_torch_matmul"] = {f"{m}x{k}x{n}": ms / by[("ours", m, k, n)]
                                                        for (m, k, n), ms in torch_mm.items() if ("ours", m, k, n) in by}
    figures["ratios"] = ratios

    by_precision = {}
    for path in sorted(glob.glob(os.path.join(fig, "records*.txt"))):
        rec = read(path, "") or ""
        m = re.search(r"pilot ([\d.]+) s \((\d+) windows\), pass ([\d.]+) s \((\d+) windows, (\d+) tokens/s\), write ([\d.]+) s", rec)
        if not m:
            continue
        pilot_s, pilot_w, pass_s, pass_w, rate, write_s = float(m[1]), int(m[2]), float(m[3]), int(m[4]), int(m[5]), float(m[6])
        layers = re.search(r"layers ([^ ]+) on (\S+)(?: \((\w+)\))?:", rec)
        precision = (layers[3] if layers and layers[3] else None) or "fp32"
        # OpenAI's dataset: 50,000 windows × 64 tokens; a pilot pass of 2,048 windows at the same rate; writing
        # scales with the neurons (fixed per model), not with the windows.
        projected = (OPENAI_WINDOWS + 2048) * 64 / rate + write_s if rate else None
        by_precision[precision] = {"windows": pass_w, "pilot_seconds": pilot_s, "pilot_windows": pilot_w, "pass_seconds": pass_s,
                                   "tokens_per_second": rate, "write_seconds": write_s, "layers": layers[1] if layers else None,
                                   "precision": precision, "projected_openai_50000x64_seconds": projected}
    if "fp32" in by_precision:
        figures["records"] = by_precision["fp32"]
    if by_precision:
        figures["records_by_precision"] = by_precision
        best = min((r["projected_openai_50000x64_seconds"] for r in by_precision.values() if r["projected_openai_50000x64_seconds"]), default=None)
        if best is not None:
            figures.setdefault("targets", {}).update({"records_xl_projection_best_seconds": best, "records_xl_projection_target_seconds": 300})

    sc = read(os.path.join(fig, "score.txt"), "") or ""
    m = re.search(r"score_seconds ([\d.]+) files (\d+)", sc)
    if m:
        seconds, files = max(float(m[1]), 1e-3), int(m[2])
        figures["score"] = {"files": files, "seconds": seconds, "files_per_second": files / seconds,
                            "projected_307200_files_seconds": OPENAI_NEURONS_XL * seconds / files}
    for type_, case, mean in bdn_cases(os.path.join(os.path.dirname(fig), "bdn-scoring")):
        figures.setdefault("score", {})[f"{type_}_307200_neurons_ms"] = mean / 1e6

    # Written after every step, each through a temporary file: a run killed at any moment leaves whole files.
    write_atomically(os.path.join(out, "figures.json"), json.dumps(figures, indent=1))
    write_atomically(os.path.join(out, "summary.txt"), summary(figures))


def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def summary(fg):
    s = [f"GPU run {fg['date']}{' (DRY RUN: cpu, tiny sizes)' if fg['dry_run'] else ''}, commit {' '.join(fg['commit'])}"]
    mc = fg["machine"]
    s.append(f"machine: {mc['gpu'] or 'no nvidia-smi'}; torch {mc['torch']}")
    if mc["cuda_missing"]:
        s.append(f"CUDA NOT FOUND: {mc['cuda_missing']}")
    s.append("steps (in the order run):")
    for k, v in fg["steps"].items():
        if v["status"] in ("running", "pending"):
            s.append(f"  {k}: {v['status']} {v['note']}")
        else:
            s.append(f"  {k} {v['status']} ({v['seconds']}s){': ' + v['note'] if v['note'] else ''}")
        s.extend(f"    {n}" for n in v.get("notes", []))
    if "cuda_tests" in fg:
        t = fg["cuda_tests"]
        s.append(f"CUDA tests: {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped of {t['total']}")
    for b in fg["bench"]:
        pk = f", {b['percent_of_peak']:.1f}% of fp32 peak" if b.get("percent_of_peak") else ""
        if b.get("precision", "fp32") != "fp32" and b.get("percent_of_precision_peak"):
            pk += f", {b['percent_of_precision_peak']:.1f}% of {b['precision']} peak"
        s.append(f"bench {b['model']} {b.get('precision', 'fp32')} batch {b['batch']}×{b['seq_len']}: {b['tokens_per_second']:,.0f} tokens/s, "
                 f"{b['gflops']:,.0f} GFLOP/s{pk}")
    for model, e in fg.get("precision_effect", {}).items():
        for p, x in e["precisions"].items():
            s.append(f"precision {model} on {e['device']} ({e['windows']} windows), {p} vs fp32: max |Δ| {x['max_abs_diff']:.3g}, "
                     f"p99.9 |Δ| {x['p999_abs_diff']:.3g}, same top-20 {100 * x['identical_top_sets']:.1f}%, "
                     f"top-20 overlap {100 * x['mean_top_overlap']:.1f}% (fp32 |activation| max {e['reference_max_abs_activation']:.3g})")
    if "torch" in fg:
        t = fg["torch"]
        if "compare" in t:
            s.append(f"engine vs torch activations: max |diff| {t['compare']['max_abs_diff']:.3g} over {t['compare']['windows']} windows")
        for r in t.get("throughput", []):
            s.append(f"torch {t['device']} {r.get('precision', 'fp32')} batch {r['batch']}×{r['seq_len']}: {r['tokens_per_second']:,.0f} tokens/s")
        for g in t.get("gemm", []):
            s.append(f"torch.matmul {g.get('precision', 'fp32')} {g['m']}x{g['k']}x{g['n']}: {g['ms']:.3f} ms, {g['tflops']:.1f} TFLOP/s")
    for k, v in fg["ratios"].items():
        if v:
            s.append(f"{k}: " + ", ".join(f"{a} {b:.2f}" for a, b in v.items()))
    for g in fg["gemm"]:
        s.append(f"gemm {g['device']}/{g['impl']} {g['m']}x{g['k']}x{g['n']}: {g['ms']:.3f} ms, {g['tflops']:.2f} TFLOP/s")
    for r in fg.get("records_by_precision", {}).values():
        s.append(f"records {r['precision']} ({r['layers']}): {r['tokens_per_second']:,} tokens/s over {r['windows']} windows (pilot {r['pilot_seconds']} s, "
                 f"write {r['write_seconds']} s); projected OpenAI 50,000×64: {r['projected_openai_50000x64_seconds']:.0f} s")
    if fg.get("targets"):
        s.append("targets: " + ", ".join(f"{k} {v:.3g}" for k, v in fg["targets"].items()))
    if "score" in fg:
        s.append("score: " + ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in fg["score"].items()))
    return "\n".join(s) + "\n"


if __name__ == "__main__":
    commands = {"make-corpus": make_corpus, "make-simulations": make_simulations, "check-bdn": check_bdn, "report": report}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
