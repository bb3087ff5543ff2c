using NeuronEngine.Model;
using NeuronEngine.Forward;

namespace NeuronEngine.Cpu;

/// <summary>
/// GPT-2's forward pass on the CPU (the `cpu` device), reading weights straight from the memory map. It stops
/// after the last layer whose neurons were asked for and hands each requested layer's post-GELU activations to
/// the sink. Buffers grow to the largest batch seen and are reused. The four GEMMs run in <paramref name="precision"/>
/// (tf32/bf16: inputs rounded as the tensor cores round them, an emulation; see CpuMath.MatMulBias).
/// </summary>
internal sealed unsafe class CpuGpt2Forward(Gpt2Weights weights, MatMulPrecision precision = MatMulPrecision.Fp32)
{
    /// <summary>The precision of the four GEMMs of every layer.</summary>
    public MatMulPrecision Precision => precision;

    private readonly Gpt2Config _c = weights.Config;
    private float[] _x = [], _ln = [], _qkv = [], _att = [], _proj = [], _h = [];

    /// <summary>When set, each layer's wall time in ms is added to its slot (for `engine bench`).</summary>
    public double[]? LayerMilliseconds { get; set; }

    /// <summary>Runs <paramref name="windows"/> windows of <paramref name="seqLen"/> tokens ([windows·seqLen] ids).</summary>
    public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, IReadOnlyCollection<int> layers,
        IMlpActivationSink sink, long firstWindow = 0)
    {
        int last = layers.Count == 0 ? -1 : layers.Max();
        RunLayers(tokens, windows, seqLen, last, (layer, h) =>
        {
            if (layers.Contains(layer)) sink.OnMlpActivations(layer, firstWindow, windows, seqLen, h);
        });
    }

    /// <summary>The full model with the tied LM head: logits [windows·seqLen, vocab] (used by tests).</summary>
    public float[] Logits(ReadOnlySpan<int> tokens, int windows, int seqLen)
    {
        RunLayers(tokens, windows, seqLen, _c.NLayer - 1, null, fullLastLayer: true);
        int m = windows * seqLen, d = _c.NEmbd, v = _c.VocabSize;
        var logits = new float[(long)m * v];
        fixed (float* x = _x, ln = _ln, lo = logits)
        {
            CpuMath.LayerNorm(x, ln, W("ln_f.weight"), W("ln_f.bias"), m, d, _c.LayerNormEpsilon);
            float* wte = W("wte.weight");
            float* lnp = ln, lop = lo;
            Parallel.For(0, m, t =>
            {
                var row = new ReadOnlySpan<float>(lnp + (long)t * d, d);
                for (int j = 0; j < v; j++) lop[(long)t * v + j] = CpuMath.Dot(row, new ReadOnlySpan<float>(wte + (long)j * d, d));
            });
        }
        return logits;
    }

    private delegate void LayerCallback(int layer, ReadOnlySpan<float> h);

    private void RunLayers(ReadOnlySpan<int> tokens, int windows, int seqLen, int last, LayerCallback? onNeurons, bool fullLastLayer = false)
    {
        int m = windows * seqLen, d = _c.NEmbd;
        _c.ValidateBatch(tokens, windows, seqLen, last);
        Ensure(ref _x, m * d); Ensure(ref _ln, m * d); Ensure(ref _qkv, m * 3 * d);
        Ensure(ref _att, m * d); Ensure(ref _proj, m * d); Ensure(ref _h, m * 4 * d);
        fixed (float* x = _x, ln = _ln, qkv = _qkv, att = _att, proj = _proj, h = _h)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Embed(tokens, x, seqLen);                                            // x = wte[tok] + wpe[pos]
            for (int l = 0; l <= last; l++)
            {
                if (LayerMilliseconds is { } times && l > 0) { times[l - 1] += clock.Elapsed.TotalMilliseconds; clock.Restart(); }
                string p = $"h.{l}.";
                CpuMath.LayerNorm(x, ln, W(p + "ln_1.weight"), W(p + "ln_1.bias"), m, d, _c.LayerNormEpsilon);
                CpuMath.MatMulBias(ln, W(p + "attn.c_attn.weight"), W(p + "attn.c_attn.bias"), qkv, m, d, 3 * d, gelu: false, precision);
                CpuMath.CausalAttention(qkv, att, windows, seqLen, d, _c.NHead);
                CpuMath.MatMulBias(att, W(p + "attn.c_proj.weight"), W(p + "attn.c_proj.bias"), proj, m, d, d, gelu: false, precision);
                CpuMath.AddInPlace(x, proj, (long)m * d);                        // x += attn(LN1(x))
                CpuMath.LayerNorm(x, ln, W(p + "ln_2.weight"), W(p + "ln_2.bias"), m, d, _c.LayerNormEpsilon);
                CpuMath.MatMulBias(ln, W(p + "mlp.c_fc.weight"), W(p + "mlp.c_fc.bias"), h, m, d, 4 * d, gelu: true, precision);
                onNeurons?.Invoke(l, new ReadOnlySpan<float>(h, m * 4 * d));      // the neurons of layer l
                if (l == last && !fullLastLayer) break;                          // nothing after this is needed
                CpuMath.MatMulBias(h, W(p + "mlp.c_proj.weight"), W(p + "mlp.c_proj.bias"), proj, m, 4 * d, d, gelu: false, precision);
                CpuMath.AddInPlace(x, proj, (long)m * d);                        // x += mlp(LN2(x))
            }
            if (LayerMilliseconds is { } t && last >= 0) t[last] += clock.Elapsed.TotalMilliseconds;
        }
    }

    private void Embed(ReadOnlySpan<int> tokens, float* x, int seqLen)
    {
        int d = _c.NEmbd;
        float* wte = W("wte.weight"), wpe = W("wpe.weight");
        for (int i = 0; i < tokens.Length; i++)
        {
            float* row = x + (long)i * d, te = wte + (long)tokens[i] * d, pe = wpe + (long)(i % seqLen) * d;
            for (int j = 0; j < d; j++) row[j] = te[j] + pe[j];
        }
    }

    private float* W(string name) => weights.FloatPointer(name);

    private static void Ensure(ref float[] buffer, long length)
    {
        if (buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
    }
}
