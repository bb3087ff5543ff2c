#!/usr/bin/env python3
"""PyTorch yardstick for the engine, on the same machine and the same weights.

GPT-2 built in plain PyTorch from the SAME model.safetensors the engine reads (HF layout, Conv1D weights [in, out],
optional `transformer.` prefix, F32/F16/BF16 upcast to fp32), fp32 with TF32 off, the MLP's post-GELU activations
captured by forward hooks as a PyTorch user would. It reports:

  * tokens/s of the forward pass up to the last layer (no LM head) at each batch × seq-len, per precision;
  * with --compare-dump DIR: the max |engine − torch| activation difference on the first windows of an `engine dump`
    shard (same tokens, every captured layer, fp32) — an independent correctness check of the engine on this device;
  * with --gemm: torch.matmul at GPT-2's projection shapes per precision, for the engine/cuBLAS/torch comparison.

Precisions (--precisions, default fp32), the yardsticks of the engine's `--precision`:
  fp32  TF32 off everywhere (torch.backends.cuda.matmul.fp32_precision = "ieee"; before PyTorch 2.9 allow_tf32 = False
        and matmul precision "highest");
  tf32  fp32 tensors with TF32 matmuls allowed (fp32_precision = "tf32"; before 2.9 allow_tf32 = True, "high");
  bf16  the forward under torch.autocast(dtype=torch.bfloat16) (fp32 weights, bf16 matmuls, fp32 elsewhere as autocast
        decides); the GEMM table multiplies bf16 tensors (x.bfloat16() @ w.bfloat16(), fp32 accumulation), the speed a
        bf16 model gets, without the casts.

  torch_gpt2.py --model DIR [--device cuda|cpu] [--batches 64,256,512] [--seq 64] [--iters 10] [--precisions fp32,tf32,bf16]
                [--compare-dump DIR] [--compare-windows 8] [--gemm] [--json FILE]

Needs only torch (no transformers, no safetensors package): the safetensors file is parsed here (8-byte header
length, JSON header, raw little-endian data).
"""
import argparse, contextlib, json, math, mmap, os, struct, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32}
GEMM_SHAPES = [(4096, 768, 2304), (4096, 768, 3072), (4096, 3072, 768), (4096, 1600, 6400), (512, 768, 3072), (32768, 768, 3072)]


def read_safetensors(path):
    """{name: tensor} from a safetensors file (memory-mapped, copied out as it is read)."""
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (n,) = struct.unpack("<Q", mm[:8])
    header = json.loads(mm[8:8 + n])
    header.pop("__metadata__", None)
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        count = (end - begin) // torch.tensor([], dtype=dtype).element_size()
        t = torch.frombuffer(bytearray(mm[8 + n + begin:8 + n + end]), dtype=dtype, count=count) if count else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"])
    mm.close()
    return tensors


class Block(nn.Module):
    def __init__(self, w, p, n_head, eps):
        super().__init__()
        g = lambda k: nn.Parameter(w[p + k].float(), requires_grad=False)
        self.ln_1 = nn.LayerNorm(g("ln_1.weight").shape[0], eps=eps)
        self.ln_1.weight, self.ln_1.bias = g("ln_1.weight"), g("ln_1.bias")
        self.ln_2 = nn.LayerNorm(g("ln_2.weight").shape[0], eps=eps)
        self.ln_2.weight, self.ln_2.bias = g("ln_2.weight"), g("ln_2.bias")
        self.c_attn_w, self.c_attn_b = g("attn.c_attn.weight"), g("attn.c_attn.bias")
        self.c_proj_w, self.c_proj_b = g("attn.c_proj.weight"), g("attn.c_proj.bias")
        self.c_fc_w, self.c_fc_b = g("mlp.c_fc.weight"), g("mlp.c_fc.bias")
        self.mlp_proj_w, self.mlp_proj_b = g("mlp.c_proj.weight"), g("mlp.c_proj.bias")
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        self.n_head = n_head

    def forward(self, x):
        B, T, C = x.shape
        h = self.ln_1(x)
        q, k, v = torch.addmm(self.c_attn_b, h.view(-1, C), self.c_attn_w).view(B, T, 3 * C).split(C, dim=-1)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # torch < 2.0
            att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
            y = att.softmax(-1) @ v
        y = y.transpose(1, 2).reshape(B * T, C)
        x = x + torch.addmm(self.c_proj_b, y, self.c_proj_w).view(B, T, C)
        m = self.gelu(torch.addmm(self.c_fc_b, self.ln_2(x).view(-1, C), self.c_fc_w))
        return x + torch.addmm(self.mlp_proj_b, m, self.mlp_proj_w).view(B, T, C)


class Gpt2(nn.Module):
    """wte + wpe, then the blocks up to the last one asked for; no final LayerNorm, no LM head (as the engine)."""

    def __init__(self, model_dir, layers=None):
        super().__init__()
        path = os.path.join(model_dir, "model.safetensors") if os.path.isdir(model_dir) else model_dir
        w = read_safetensors(path)
        prefix = "transformer." if "transformer.wte.weight" in w else ""
        cfg_path = os.path.join(os.path.dirname(path), "config.json")
        cfg = json.load(open(cfg_path)) if os.path.exists(cfg_path) else {}
        n_layer = cfg.get("n_layer") or 1 + max(int(k.split(".")[1 + bool(prefix)]) for k in w if ".h." in "." + k)
        d = w[prefix + "wte.weight"].shape[1]
        n_head = cfg.get("n_head") or d // 64
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.wte = nn.Parameter(w[prefix + "wte.weight"].float(), requires_grad=False)
        self.wpe = nn.Parameter(w[prefix + "wpe.weight"].float(), requires_grad=False)
        last = n_layer - 1 if layers is None else layers
        self.h = nn.ModuleList(Block(w, f"{prefix}h.{i}.", n_head, eps) for i in range(last + 1))
        self.captured = {}
        for i, block in enumerate(self.h):
            block.gelu.register_forward_hook(lambda mod, inp, out, i=i: self.captured.__setitem__(i, out))

    def forward(self, tokens):
        x = self.wte[tokens] + self.wpe[: tokens.shape[1]][None]
        for block in self.h:
            x = block(x)
        return self.captured


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def tf32_api():
    """Which switch this PyTorch has: "fp32_precision" (2.9 and later) or the older "allow_tf32"."""
    return "fp32_precision" if hasattr(torch.backends.cuda.matmul, "fp32_precision") else "allow_tf32"


def set_precision(precision):
    """TF32 on or off for fp32 matmuls (bf16 works through autocast, see precision_context). PyTorch 2.9 and later:
    torch.backends.cuda.matmul.fp32_precision ("tf32" / "ieee") and cudnn's, alone (the legacy switches are deprecated
    there, and reading one after a mix of the two APIs raises); earlier: allow_tf32 and set_float32_matmul_precision."""
    tf32 = precision == "tf32"
    if tf32_api() == "fp32_precision":
        torch.backends.cuda.matmul.fp32_precision = "tf32" if tf32 else "ieee"
        torch.backends.cudnn.conv.fp32_precision = "tf32" if tf32 else "ieee"
        return
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("high" if tf32 else "highest")


def precision_context(device, precision):
    if precision == "bf16":
        return torch.autocast(device_type="cuda" if device == "cuda" else "cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def throughput(model, device, batch, seq, iters, warmup, precision="fp32"):
    tokens = torch.randint(0, model.wte.shape[0], (batch, seq), generator=torch.Generator().manual_seed(0)).to(device)
    set_precision(precision)
    with precision_context(device, precision):
        for _ in range(warmup):
            model(tokens)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            model(tokens)
        sync(device)
    set_precision("fp32")
    seconds = (time.perf_counter() - t0) / iters
    return {"precision": precision, "batch": batch, "seq_len": seq, "seconds_per_pass": seconds, "tokens_per_second": batch * seq / seconds}


@torch.inference_mode()
def compare(model, device, dump_dir, windows):
    shards = sorted(f for f in os.listdir(dump_dir) if f.startswith("shard-") and f.endswith(".safetensors"))
    if not shards:
        raise SystemExit(f"torch_gpt2: no shard-*.safetensors in {dump_dir}")
    data = read_safetensors(os.path.join(dump_dir, shards[0]))
    tokens = data["tokens"][:windows].long().to(device)
    acts = model(tokens)
    layers, worst = {}, 0.0
    for name, value in data.items():
        if not name.startswith("mlp."):
            continue
        layer = int(name.split(".")[1])
        if layer not in acts:
            continue
        engine = value[:windows].float().to(device)
        ours = acts[layer].view(engine.shape)
        diff = (engine - ours).abs()
        layers[layer] = {"max_abs_diff": diff.max().item(), "max_abs_activation": ours.abs().max().item()}
        worst = max(worst, layers[layer]["max_abs_diff"])
    return {"shard": shards[0], "windows": int(tokens.shape[0]), "seq_len": int(tokens.shape[1]),
            "max_abs_diff": worst, "layers": [dict(layer=k, **v) for k, v in sorted(layers.items())]}


@torch.inference_mode()
def gemm(device, iters, precision="fp32"):
    rows = []
    set_precision(precision)
    for m, k, n in GEMM_SHAPES:
        x = torch.randn(m, k, device=device)
        w = torch.randn(k, n, device=device)
        if precision == "bf16":
            x, w = x.bfloat16(), w.bfloat16()
        for _ in range(3):
            x @ w
        sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            x @ w
        sync(device)
        seconds = (time.perf_counter() - t0) / iters
        rows.append({"precision": precision, "m": m, "k": k, "n": n, "ms": seconds * 1e3, "tflops": 2 * m * k * n / seconds / 1e12})
    set_precision("fp32")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="directory with model.safetensors (+ config.json), or the file")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", default="64,256,512")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--layers", type=int, default=None, help="last layer (default: all)")
    ap.add_argument("--compare-dump", help="an `engine dump` directory made from the same model")
    ap.add_argument("--compare-windows", type=int, default=8)
    ap.add_argument("--gemm", action="store_true")
    ap.add_argument("--precisions", default="fp32", help="comma-separated: fp32, tf32, bf16 (throughput and --gemm per precision)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", help="write the report here too")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    precisions = [p for p in a.precisions.split(",") if p]
    bad = [p for p in precisions if p not in ("fp32", "tf32", "bf16")]
    if bad:
        raise SystemExit(f"torch_gpt2: --precisions: {bad} not among fp32, tf32, bf16")
    # fp32 as the engine computes it: no TF32 anywhere (the tf32 runs switch it on for themselves).
    set_precision("fp32")
    report = {"torch": torch.__version__, "device": a.device,
              "device_name": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu", "tf32": False, "tf32_api": tf32_api(),
              "precisions": precisions}
    t0 = time.perf_counter()
    model = Gpt2(a.model, a.layers).to(a.device)
    report["load_seconds"] = time.perf_counter() - t0
    report["layers"] = len(model.h)
    if a.compare_dump:
        report["compare"] = compare(model, a.device, a.compare_dump, a.compare_windows)
        print(f"torch vs engine dump: max |diff| {report['compare']['max_abs_diff']:.3g} over {report['compare']['windows']} windows", flush=True)
    report["throughput"] = []
    for p in precisions:
        for b in (int(x) for x in a.batches.split(",") if x):
            r = throughput(model, a.device, b, a.seq, a.iters, a.warmup, p)
            report["throughput"].append(r)
            print(f"torch forward {p} batch {b} × {a.seq}: {r['tokens_per_second']:.0f} tokens/s", flush=True)
    if a.gemm:
        report["gemm"] = [row for p in precisions for row in gemm(a.device, a.iters, p)]
        for g in report["gemm"]:
            print(f"torch.matmul {g['precision']} {g['m']}x{g['k']}x{g['n']}: {g['ms']:.3f} ms, {g['tflops']:.1f} TFLOP/s", flush=True)
    text = json.dumps(report)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
