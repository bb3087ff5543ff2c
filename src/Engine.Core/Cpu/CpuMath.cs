using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using NeuronEngine.Forward;
using NeuronEngine.Numerics;

namespace NeuronEngine.Cpu;

/// <summary>
/// The operations of GPT-2's forward pass on the CPU, one function per concept, each with its formula. These are
/// the reference the ILGPU kernels are tested against, so every output element is computed in a fixed order
/// (independent of thread count and batch size): the same window always gives bit-identical activations.
/// </summary>
internal static unsafe class CpuMath
{
    /// <summary>√(2/π), the constant of GPT-2's tanh GELU.</summary>
    public const float GeluScale = 0.7978845608028654f;

    /// <summary>GPT-2's "gelu_new": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), exact tanh.</summary>
    public static float Gelu(float x) => 0.5f * x * (1f + MathF.Tanh(GeluScale * (x + 0.044715f * x * x * x)));

    /// <summary>
    /// LayerNorm over rows of length d: y = (x − mean)/√(var + ε)·γ + β, biased variance; mean and variance are
    /// accumulated in double so wide rows with a large mean (GPT-2's residual stream has some) lose nothing.
    /// </summary>
    public static void LayerNorm(float* x, float* y, float* gamma, float* beta, int rows, int d, float eps)
    {
        Parallel.For(0, rows, r =>
        {
            float* xr = x + (long)r * d, yr = y + (long)r * d;
            double sum = 0;
            for (int i = 0; i < d; i++) sum += xr[i];
            double mean = sum / d, sq = 0;
            for (int i = 0; i < d; i++) { double c = xr[i] - mean; sq += c * c; }
            float rstd = (float)(1.0 / Math.Sqrt(sq / d + eps)), m = (float)mean;
            for (int i = 0; i < d; i++) yr[i] = (xr[i] - m) * rstd * gamma[i] + beta[i];
        });
    }

    /// <summary>
    /// y[M,N] = x[M,K]·W[K,N] + b (W in Conv1D layout [in, out]), optionally followed by GELU. Register-blocked:
    /// 6 (or 4) rows × 16 columns of accumulators, parallel over 16-column strips; each strip of W is packed
    /// contiguously and stays in cache while all rows stream past it. Each element is one FMA chain over k = 0..K−1, then + b.
    /// </summary>
    public static void MatMulBias(float* x, float* w, float* bias, float* y, int m, int k, int n, bool gelu)
    {
        int strips = (n + 15) / 16;
        Parallel.For(0, strips, s =>
        {
            int c0 = s * 16, width = Math.Min(16, n - c0);
            // Copy the strip W[:, c0..c0+16) into a contiguous [K, 16] buffer: read in place, its rows sit N floats
            // apart — a multiple of 4 KiB for GPT-2's widths — so they collide in the same cache sets and every
            // row block would fetch the strip from memory again. Packing changes no arithmetic.
            float* packed = PackedStrip(k);
            for (int i = 0; i < k; i++)
                new ReadOnlySpan<float>(w + (long)i * n + c0, width).CopyTo(new Span<float>(packed + (long)i * 16, width));
            int r = 0;
            if (width == 16 && Vector256.IsHardwareAccelerated)
            {
                for (; r + 6 <= m; r += 6) Block6x16(x + (long)r * k, packed, 16, y + (long)r * n + c0, k, n);
                for (; r + 4 <= m; r += 4) Block4x16(x + (long)r * k, packed, 16, y + (long)r * n + c0, k, n);
            }
            for (; r < m; r++) RowStrip(x + (long)r * k, packed, 16, y + (long)r * n + c0, k, width);
            for (r = 0; r < m; r++)
            {
                float* yr = y + (long)r * n + c0;
                for (int j = 0; j < width; j++)
                {
                    float v = yr[j] + bias[c0 + j];
                    yr[j] = gelu ? Gelu(v) : v;
                }
            }
        });
    }

    /// <summary>
    /// <see cref="MatMulBias(float*, float*, float*, float*, int, int, int, bool)"/> in a GEMM precision: for tf32 and
    /// bf16, x and W are first rounded as the tensor-core kernels round them (<see cref="TensorCoreRounding"/>, the
    /// same source file, compiled into the kernels too), then multiplied in float32. Products of rounded values are exact in float32, so this is the value
    /// the tensor-core GEMM's emulation (ILGPU's CPU accelerator) computes, bit for bit before the bias; a GPU's tensor
    /// cores sum each instruction's products in their own order. An emulation: it costs two rounded copies per call.
    /// </summary>
    public static void MatMulBias(float* x, float* w, float* bias, float* y, int m, int k, int n, bool gelu, MatMulPrecision precision)
    {
        if (precision == MatMulPrecision.Fp32)
        {
            MatMulBias(x, w, bias, y, m, k, n, gelu);
            return;
        }
        long xs = (long)m * k, ws = (long)k * n;
        var xr = ArrayPool<float>.Shared.Rent(checked((int)Math.Max(xs, 1)));
        var wr = ArrayPool<float>.Shared.Rent(checked((int)Math.Max(ws, 1)));
        try
        {
            fixed (float* px = xr, pw = wr)
            {
                Round(x, px, xs, precision);
                Round(w, pw, ws, precision);
                MatMulBias(px, pw, bias, y, m, k, n, gelu);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(xr);
            ArrayPool<float>.Shared.Return(wr);
        }
    }

    /// <summary>to[i] = RoundInput(from[i], precision), in parallel chunks.</summary>
    public static void Round(float* from, float* to, long count, MatMulPrecision precision)
    {
        const int chunk = 1 << 16;
        long chunks = (count + chunk - 1) / chunk;
        Parallel.For(0L, chunks, c =>
        {
            long end = Math.Min(count, (c + 1) * chunk);
            if (precision == MatMulPrecision.Tf32)
                for (long i = c * chunk; i < end; i++) to[i] = TensorCoreRounding.RoundTf32(from[i]);
            else
                for (long i = c * chunk; i < end; i++) to[i] = RoundInput(from[i], precision);
        });
    }

    /// <summary><paramref name="value"/> rounded as <paramref name="precision"/>'s GEMM inputs are (Fp32: unchanged).</summary>
    public static float RoundInput(float value, MatMulPrecision precision) => precision switch
    {
        MatMulPrecision.Tf32 => TensorCoreRounding.RoundTf32(value),
        MatMulPrecision.Bf16 => TensorCoreRounding.RoundBf16(value),
        _ => value,
    };

    [ThreadStatic] private static float[]? _packedStrip;

    /// <summary>This thread's strip buffer of at least k·16 floats (pinned, reused across calls).</summary>
    private static float* PackedStrip(int k)
    {
        if (_packedStrip is null || _packedStrip.Length < k * 16)
            _packedStrip = GC.AllocateUninitializedArray<float>(k * 16, pinned: true);
        fixed (float* p = _packedStrip) return p;
    }

    /// <summary>6 rows × 16 columns: 12 accumulators + 2 weight vectors + 1 broadcast fill AVX2's 16 registers.</summary>
    private static void Block6x16(float* x, float* w, int ws, float* y, int k, int n)
    {
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default,
                         a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        float* x1 = x + k, x2 = x1 + k, x3 = x2 + k, x4 = x3 + k, x5 = x4 + k;
        for (int i = 0; i < k; i++)
        {
            float* wr = w + (long)i * ws;
            var w0 = Vector256.Load(wr);
            var w1 = Vector256.Load(wr + 8);
            var b = Vector256.Create(x[i]);
            a00 = Vector256.FusedMultiplyAdd(b, w0, a00); a01 = Vector256.FusedMultiplyAdd(b, w1, a01);
            b = Vector256.Create(x1[i]);
            a10 = Vector256.FusedMultiplyAdd(b, w0, a10); a11 = Vector256.FusedMultiplyAdd(b, w1, a11);
            b = Vector256.Create(x2[i]);
            a20 = Vector256.FusedMultiplyAdd(b, w0, a20); a21 = Vector256.FusedMultiplyAdd(b, w1, a21);
            b = Vector256.Create(x3[i]);
            a30 = Vector256.FusedMultiplyAdd(b, w0, a30); a31 = Vector256.FusedMultiplyAdd(b, w1, a31);
            b = Vector256.Create(x4[i]);
            a40 = Vector256.FusedMultiplyAdd(b, w0, a40); a41 = Vector256.FusedMultiplyAdd(b, w1, a41);
            b = Vector256.Create(x5[i]);
            a50 = Vector256.FusedMultiplyAdd(b, w0, a50); a51 = Vector256.FusedMultiplyAdd(b, w1, a51);
        }
        a00.Store(y); a01.Store(y + 8);
        a10.Store(y + n); a11.Store(y + n + 8);
        a20.Store(y + 2L * n); a21.Store(y + 2L * n + 8);
        a30.Store(y + 3L * n); a31.Store(y + 3L * n + 8);
        a40.Store(y + 4L * n); a41.Store(y + 4L * n + 8);
        a50.Store(y + 5L * n); a51.Store(y + 5L * n + 8);
    }

    private static void Block4x16(float* x, float* w, int ws, float* y, int k, int n)
    {
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default,
                         a20 = default, a21 = default, a30 = default, a31 = default;
        float* x1 = x + k, x2 = x1 + k, x3 = x2 + k;
        for (int i = 0; i < k; i++)
        {
            float* wr = w + (long)i * ws;
            var w0 = Vector256.Load(wr);
            var w1 = Vector256.Load(wr + 8);
            var b0 = Vector256.Create(x[i]);
            var b1 = Vector256.Create(x1[i]);
            var b2 = Vector256.Create(x2[i]);
            var b3 = Vector256.Create(x3[i]);
            a00 = Vector256.FusedMultiplyAdd(b0, w0, a00); a01 = Vector256.FusedMultiplyAdd(b0, w1, a01);
            a10 = Vector256.FusedMultiplyAdd(b1, w0, a10); a11 = Vector256.FusedMultiplyAdd(b1, w1, a11);
            a20 = Vector256.FusedMultiplyAdd(b2, w0, a20); a21 = Vector256.FusedMultiplyAdd(b2, w1, a21);
            a30 = Vector256.FusedMultiplyAdd(b3, w0, a30); a31 = Vector256.FusedMultiplyAdd(b3, w1, a31);
        }
        a00.Store(y); a01.Store(y + 8);
        a10.Store(y + n); a11.Store(y + n + 8);
        a20.Store(y + 2L * n); a21.Store(y + 2L * n + 8);
        a30.Store(y + 3L * n); a31.Store(y + 3L * n + 8);
    }

    /// <summary>One row of a strip, scalar FMAs in the same k order as the vector block (bitwise identical).</summary>
    private static void RowStrip(float* x, float* w, int ws, float* y, int k, int width)
    {
        float* acc = stackalloc float[16];
        for (int j = 0; j < width; j++) acc[j] = 0;
        for (int i = 0; i < k; i++)
        {
            float xi = x[i];
            float* wr = w + (long)i * ws;
            for (int j = 0; j < width; j++) acc[j] = MathF.FusedMultiplyAdd(xi, wr[j], acc[j]);
        }
        for (int j = 0; j < width; j++) y[j] = acc[j];
    }

    /// <summary>
    /// Causal multi-head attention over qkv [B·T, 3d] (q | k | v, heads contiguous within each):
    /// out_t = Σ_{s≤t} softmax_s(q_t·k_s/√dh)·v_s, softmax shifted by its maximum for safety.
    /// </summary>
    public static void CausalAttention(float* qkv, float* output, int batch, int seqLen, int d, int heads)
    {
        int dh = d / heads;
        float scale = 1f / MathF.Sqrt(dh);
        Parallel.For(0, batch * heads, bh =>
        {
            int b = bh / heads, h = bh % heads;
            var scores = new float[seqLen];
            for (int t = 0; t < seqLen; t++)
            {
                var q = new ReadOnlySpan<float>(qkv + ((long)(b * seqLen + t) * 3 * d) + h * dh, dh);
                float max = float.NegativeInfinity;
                for (int s = 0; s <= t; s++)
                {
                    var key = new ReadOnlySpan<float>(qkv + ((long)(b * seqLen + s) * 3 * d) + d + h * dh, dh);
                    scores[s] = Dot(q, key) * scale;
                    max = MathF.Max(max, scores[s]);
                }
                double sum = 0;
                for (int s = 0; s <= t; s++) { scores[s] = MathF.Exp(scores[s] - max); sum += scores[s]; }
                float inv = (float)(1.0 / sum);
                var o = new Span<float>(output + (long)(b * seqLen + t) * d + h * dh, dh);
                o.Clear();
                for (int s = 0; s <= t; s++)
                {
                    float p = scores[s] * inv;
                    float* v = qkv + ((long)(b * seqLen + s) * 3 * d) + 2 * d + h * dh;
                    for (int i = 0; i < dh; i++) o[i] = MathF.FusedMultiplyAdd(p, v[i], o[i]);
                }
            }
        });
    }

    /// <summary>A dot product in a fixed (sequential FMA) order, so results never depend on vector width.</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float acc = 0;
        for (int i = 0; i < a.Length; i++) acc = MathF.FusedMultiplyAdd(a[i], b[i], acc);
        return acc;
    }

    /// <summary>x += y, elementwise (the residual stream).</summary>
    public static void AddInPlace(float* x, float* y, long count) =>
        TensorPrimitives.Add(new ReadOnlySpan<float>(x, (int)count), new ReadOnlySpan<float>(y, (int)count), new Span<float>(x, (int)count));
}
