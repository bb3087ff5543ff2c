#!/usr/bin/python3
"""`engine score` against a Python + numpy yardstick, on the same files, in the same sitting.

  score_yardstick.py generate --out DIR [--files 1000] [--seed 0]
      Writes DIR/{layer}/{neuron}.jsonl the way OpenAI's neuron-explainer writes NeuronSimulationResults
      (FastDataclass + orjson: one compact line, "dataclass_name" first in every object, every field written, NaN as
      null), shaped like the published GPT-2 XL explanations: 1 explanation, 10 scored sequences (5 top, 5 random) of
      64 tokens, the simulator's discrete distribution over 0-10 per token. orjson is used when importable, else
      json.dumps with compact separators (the same bytes up to float exponent spelling).

  score_yardstick.py python DIR
      The yardstick alone: every file read with Python's json and scored with numpy as OpenAI's scoring.py does
      (np.corrcoef for the correlation, 1 - mean((t-p)^2)/mean(t^2), 1 - mean|t-p|/mean|t|, per sequence and over
      the sequences concatenated, plus top-only and random-only correlations: what `engine score` computes).

  score_yardstick.py compare DIR --engine PATH [--rounds 3] [--threads N] [--write-results]
      Runs `engine score --explanations DIR --device cpu` and the yardstick alternately (ABAB...), each in a fresh
      process with the page cache warm, and prints per round and as medians: wall and CPU seconds (user + system,
      start-up included), files and MB of JSON per CPU-second, peak resident memory (/usr/bin/time), and the ratio
      per core: the yardstick's CPU seconds over the engine's (the yardstick runs on one core, pinned). On a shared
      machine the wall clock counts the other users' work too, so the CPU ratio is the one to quote; the wall ratio
      (divided by the engine's cores) is printed beside it. --threads N pins the engine to N cores (taskset) and tells
      it so (DOTNET_PROCESSOR_COUNT).

Nothing here is OpenAI's code: the formulas are those of their scoring.py (aggregate_scored_sequence_simulations),
written again for numpy.
"""
import argparse, json, math, os, random, resource, statistics, subprocess, sys, time

try:
    import orjson
except ImportError:  # Debian has no orjson; json.dumps gives the same layout
    orjson = None


# ---------------------------------------------------------------------------------------------- files as OpenAI writes them
def dumps(obj):
    if orjson is not None:
        return orjson.dumps(obj)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def nan_to_none(x):
    return None if isinstance(x, float) and math.isnan(x) else x


WORDS = [" the", " of", " and", " to", " in", " a", " is", " that", " for", " it", " as", " was", " with", " be", " by",
         " on", " not", " he", " this", " are", " or", " his", " from", " at", " which", " but", " have", ".", ",", "\n",
         " café", " neuron", " model", " €", "ing", "ed", " 2023", " (", ")", " \"", "'s"]


def sequence_simulation(rng, tokens, true_acts):
    values = list(range(11))
    expected, probabilities = [], []
    for t in true_acts:
        centre = min(10, max(0, round(t * 3 + rng.uniform(-1, 1))))
        weights = [math.exp(-abs(v - centre) * rng.uniform(0.8, 2.5)) for v in values]
        total = sum(weights)
        p = [w / total for w in weights]
        probabilities.append(p)
        expected.append(sum(v * q for v, q in zip(values, p)))
    return {
        "dataclass_name": "SequenceSimulation",
        "tokens": tokens,
        "expected_activations": expected,
        "activation_scale": "simulated_normalized_activations",
        "distribution_values": [values for _ in tokens],
        "distribution_probabilities": probabilities,
        "uncalibrated_simulation": None,
    }


def neuron_results(rng, layer, neuron, sequences=10, tokens_per_sequence=64):
    scored = []
    for s in range(sequences):
        top = s < sequences // 2
        tokens = [rng.choice(WORDS) for _ in range(tokens_per_sequence)]
        acts = [rng.uniform(0, 4) if rng.random() < (0.3 if top else 0.05) else -rng.uniform(0, 0.17)
                for _ in range(tokens_per_sequence)]
        scored.append({
            "dataclass_name": "ScoredSequenceSimulation",
            "simulation": sequence_simulation(rng, tokens, acts),
            "true_activations": acts,
            "ev_correlation_score": 0.0,
            "rsquared_score": 0.0,
            "absolute_dev_explained_score": 0.0,
        })
    return {
        "dataclass_name": "NeuronSimulationResults",
        "neuron_id": {"dataclass_name": "NeuronId", "layer_index": layer, "neuron_index": neuron},
        "scored_explanations": [{
            "dataclass_name": "ScoredExplanation",
            "explanation": f" words about topic {neuron % 97}, and café",
            "scored_simulation": {
                "dataclass_name": "ScoredSimulation",
                "scored_sequence_simulations": scored,
                "ev_correlation_score": 0.0,
                "rsquared_score": 0.0,
                "absolute_dev_explained_score": 0.0,
            },
        }],
    }


def generate(out, files, seed, neurons_per_layer=6400):
    rng = random.Random(seed)
    for i in range(files):
        layer, neuron = divmod(i, neurons_per_layer)
        os.makedirs(os.path.join(out, str(layer)), exist_ok=True)
        with open(os.path.join(out, str(layer), f"{neuron}.jsonl"), "wb") as f:
            f.write(dumps(neuron_results(rng, layer, neuron)) + b"\n")


def list_files(directory):
    found = []
    for layer in sorted((d for d in os.listdir(directory) if d.isdigit()), key=int):
        for name in os.listdir(os.path.join(directory, layer)):
            stem, ext = os.path.splitext(name)
            if ext == ".jsonl" and stem.isdigit():
                found.append((int(layer), int(stem), os.path.join(directory, layer, name)))
    found.sort()
    return found


# ---------------------------------------------------------------------------------------------- the yardstick (scoring.py)
def python_yardstick(directory):
    import numpy as np

    def correlation(t, p):
        return float(np.corrcoef(t, p)[0, 1])

    def rsquared(t, p):
        return float(1 - np.mean(np.square(t - p)) / np.mean(np.square(t)))

    def absolute_dev_explained(t, p):
        return float(1 - np.mean(np.abs(t - p)) / np.mean(np.abs(t)))

    count, checksum = 0, 0.0
    with np.errstate(all="ignore"):
        for layer, neuron, path in list_files(directory):
            with open(path, "rb") as f:
                results = json.loads(f.read())
            for explanation in results["scored_explanations"]:
                sequences = explanation["scored_simulation"]["scored_sequence_simulations"]
                ts, ps = [], []
                for s in sequences:
                    t = np.asarray(s["true_activations"], dtype=float)
                    p = np.asarray([math.nan if v is None else v for v in s["simulation"]["expected_activations"]], dtype=float)
                    s["ev_correlation_score"] = correlation(t, p)
                    s["rsquared_score"] = rsquared(t, p)
                    s["absolute_dev_explained_score"] = absolute_dev_explained(t, p)
                    ts.append(t)
                    ps.append(p)
                top = (len(sequences) + 1) // 2
                t_all, p_all = np.concatenate(ts), np.concatenate(ps)
                scores = (correlation(t_all, p_all), rsquared(t_all, p_all), absolute_dev_explained(t_all, p_all),
                          correlation(np.concatenate(ts[:top]), np.concatenate(ps[:top])),
                          correlation(np.concatenate(ts[top:]), np.concatenate(ps[top:])))
                checksum += scores[0] if math.isfinite(scores[0]) else 0.0
            count += 1
    print(f"files={count} checksum={checksum:.12f}")


# ---------------------------------------------------------------------------------------------- side by side
def timed(cmd, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, p.stdout


def peak_rss_mb(cmd, env=None):
    """Peak resident memory of one run, from /usr/bin/time -f %M (KiB)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(p.stderr.strip().splitlines()[-1]) / 1024


def compare(directory, engine, rounds, threads, write_results, out):
    files = list_files(directory)
    total_bytes = sum(os.path.getsize(p) for _, _, p in files)
    cores = threads or os.cpu_count()
    env = dict(os.environ)
    pin = []
    if threads:
        env["DOTNET_PROCESSOR_COUNT"] = str(threads)
        pin = ["taskset", "-c", ",".join(str(c) for c in range(threads))]
    engine_cmd = pin + [engine, "score", "--explanations", directory, "--out", out, "--device", "cpu"] + (["--write-results"] if write_results else [])
    python_cmd = ["taskset", "-c", "0", sys.executable, os.path.abspath(__file__), "python", directory]
    for _, _, p in files:  # warm the page cache: both sides read from memory, as the second of two runs would
        with open(p, "rb") as f:
            f.read()
    rows = {"engine": [], "python": []}
    for r in range(rounds):
        for name, cmd in (("engine", engine_cmd), ("python", python_cmd)):
            seconds, cpu, _ = timed(cmd, env if name == "engine" else None)
            rows[name].append((seconds, cpu))
            print(f"round {r + 1} {name:6s}: {seconds:7.2f} s wall, {cpu:7.2f} s CPU, {len(files) / seconds:8.1f} files/s, "
                  f"{total_bytes / seconds / 1e6:7.1f} MB/s", flush=True)
    rss = {"engine": peak_rss_mb(engine_cmd, env), "python": peak_rss_mb(python_cmd)}
    med = {k: statistics.median(s for s, _ in v) for k, v in rows.items()}
    med_cpu = {k: statistics.median(c for _, c in v) for k, v in rows.items()}
    print(f"files={len(files)} json_mb={total_bytes / 1e6:.1f} engine_cores={cores} rounds={rounds} write_results={write_results}")
    for k in ("engine", "python"):
        print(f"{k:6s}: median {med[k]:.2f} s wall, {med_cpu[k]:.2f} s CPU; {len(files) / med_cpu[k]:.1f} files and "
              f"{total_bytes / med_cpu[k] / 1e6:.1f} MB of JSON per CPU-second; peak RSS {rss[k]:.0f} MB")
    # Per core = per CPU-second used (user + system, start-up included): on a shared machine the wall clock also counts
    # the other users' work, while CPU time counts what each side spent. The wall-clock ratio is printed beside it.
    print(f"ratio_per_core={med_cpu['python'] / med_cpu['engine']:.1f}  (python CPU-s / engine CPU-s, same files)")
    print(f"ratio_wall_per_core={(med['python'] / med['engine']) / cores:.1f}  (python wall / engine wall / engine cores)")
    print(f"engine_mb_per_cpu_s={total_bytes / med_cpu['engine'] / 1e6:.1f}")
    print(f"engine_peak_rss_mb={rss['engine']:.0f}")
    print(f"projected_307200_files_wall_s={307200 * med['engine'] / len(files):.0f}  (at this run's wall rate on {cores} cores)")

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    g.add_argument("--files", type=int, default=1000)
    g.add_argument("--seed", type=int, default=0)
    y = sub.add_parser("python")
    y.add_argument("dir")
    c = sub.add_parser("compare")
    c.add_argument("dir")
    c.add_argument("--engine", required=True)
    c.add_argument("--rounds", type=int, default=3)
    c.add_argument("--threads", type=int, default=0)
    c.add_argument("--write-results", action="store_true")
    c.add_argument("--out", default="/tmp/score-yardstick-out")
    a = ap.parse_args()
    if a.cmd == "generate":
        generate(a.out, a.files, a.seed)
    elif a.cmd == "python":
        python_yardstick(a.dir)
    else:
        compare(a.dir, a.engine, a.rounds, a.threads, a.write_results, a.out)


if __name__ == "__main__":
    main()
