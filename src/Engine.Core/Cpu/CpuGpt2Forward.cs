using NeuronEngine.Model;
using NeuronEngine.Forward;

namespace NeuronEngine.Cpu;

/// <summary>
/// GPT-2's forward pass on the CPU (the `cpu` device), reading weights straight from the memory map. It hands each
/// requested layer's post-GELU activations to the sink and stops after the last of them, unless the request asks for
/// log-probabilities (then: final LayerNorm, tied unembedding, log-softmax). Buffers grow to the largest batch seen and are reused. The four GEMMs run in <paramref name="precision"/>
/// (tf32/bf16: inputs rounded as the tensor cores round them, an emulation; see CpuMath.MatMulBias).
/// </summary>
internal sealed unsafe class CpuGpt2Forward(Gpt2Weights weights, MatMulPrecision precision = MatMulPrecision.Fp32)
{
    /// <summary>The precision of the four GEMMs of every layer.</summary>
    public MatMulPrecision Precision => precision;

    private readonly Gpt2Config _c = weights.Config;
    private float[] _x = [], _ln = [], _qkv = [], _att = [], _proj = [], _h = [], _logits = [];
    private float[] _wteT = [], _zeroBias = [];

    /// <summary>When set, each layer's wall time in ms is added to its slot (for `engine bench`).</summary>
    public double[]? LayerMilliseconds { get; set; }

    /// <summary>Runs <paramref name="windows"/> windows of <paramref name="seqLen"/> tokens ([windows·seqLen] ids).</summary>
    public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, IReadOnlyCollection<int> layers,
        IMlpActivationSink sink, long firstWindow = 0) =>
        Run(tokens, windows, seqLen, new ForwardRequest { Layers = layers, Sink = sink, FirstWindow = firstWindow });

    /// <summary>Runs a batch for a request: the requested layers' neurons to its sink, and its log-probabilities if asked.</summary>
    public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, ForwardRequest request)
    {
        int d = _c.NEmbd, elements = request.Elements(windows);
        int last = request.LastLayer(_c.NLayer);
        _c.ValidateBatch(tokens, windows, seqLen, last);
        request.Validate(windows, seqLen, _c.DMlp, last);
        long m = (long)Math.Max(windows, elements) * seqLen;
        Ensure(ref _x, m * d); Ensure(ref _ln, m * d); Ensure(ref _qkv, m * 3 * d);
        Ensure(ref _att, m * d); Ensure(ref _proj, m * d); Ensure(ref _h, m * 4 * d);
        fixed (float* x = _x, spare = _proj)
        {
            Embed(tokens, x, seqLen);                                            // x = wte[tok] + wpe[pos]
            if (request.FanOut is { } map)
            {
                // Layers below the first patch are the same for every element of a window: once per window, then copy.
                int split = request.FanOutLayer(last);
                RunLayers(0, Math.Min(split, last + 1) - 1, windows, seqLen, request, fullLastLayer: true);
                long rowBlock = (long)seqLen * d;
                Buffer.MemoryCopy(x, spare, m * d * sizeof(float), windows * rowBlock * sizeof(float));
                for (int e = 0; e < map.Length; e++)
                    Buffer.MemoryCopy(spare + map[e] * rowBlock, x + e * rowBlock, rowBlock * sizeof(float), rowBlock * sizeof(float));
                RunLayers(split, last, elements, seqLen, request, fullLastLayer: request.LogProbs is not null);
            }
            else RunLayers(0, last, windows, seqLen, request, fullLastLayer: request.LogProbs is not null);
            if (request.LogProbs is { } sink) UnembedLogSoftmax(elements * seqLen, sink);
        }
    }

    /// <summary>
    /// Layers [first, last] on the residual stream in _x (windows·seqLen rows); each requested layer's neurons go to the
    /// request's sink. The last layer stops after its GELU unless <paramref name="fullLastLayer"/>.
    /// </summary>
    private void RunLayers(int first, int last, int windows, int seqLen, ForwardRequest request, bool fullLastLayer)
    {
        int m = windows * seqLen, d = _c.NEmbd;
        fixed (float* x = _x, ln = _ln, qkv = _qkv, att = _att, proj = _proj, h = _h)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int l = first; l <= last; l++)
            {
                string p = $"h.{l}.";
                CpuMath.LayerNorm(x, ln, W(p + "ln_1.weight"), W(p + "ln_1.bias"), m, d, _c.LayerNormEpsilon);
                CpuMath.MatMulBias(ln, W(p + "attn.c_attn.weight"), W(p + "attn.c_attn.bias"), qkv, m, d, 3 * d, gelu: false, precision);
                CpuMath.CausalAttention(qkv, att, windows, seqLen, d, _c.NHead);
                CpuMath.MatMulBias(att, W(p + "attn.c_proj.weight"), W(p + "attn.c_proj.bias"), proj, m, d, d, gelu: false, precision);
                CpuMath.AddInPlace(x, proj, (long)m * d);                        // x += attn(LN1(x))
                CpuMath.LayerNorm(x, ln, W(p + "ln_2.weight"), W(p + "ln_2.bias"), m, d, _c.LayerNormEpsilon);
                CpuMath.MatMulBias(ln, W(p + "mlp.c_fc.weight"), W(p + "mlp.c_fc.bias"), h, m, d, 4 * d, gelu: true, precision);
                if (request.Layers.Contains(l))                                  // the neurons of layer l
                    request.Sink.OnMlpActivations(l, request.FirstWindow, windows, seqLen, new ReadOnlySpan<float>(h, m * 4 * d));
                if (request.Patches is { } patches) MlpPatch.Apply(patches, l, new Span<float>(h, m * 4 * d), seqLen, 4 * d);
                if (l < last || fullLastLayer)
                {
                    CpuMath.MatMulBias(h, W(p + "mlp.c_proj.weight"), W(p + "mlp.c_proj.bias"), proj, m, 4 * d, d, gelu: false, precision);
                    CpuMath.AddInPlace(x, proj, (long)m * d);                    // x += mlp(LN2(x))
                }
                if (LayerMilliseconds is { } times) { times[l] += clock.Elapsed.TotalMilliseconds; clock.Restart(); }
            }
        }
    }

    /// <summary>
    /// logits = LN_f(x)·wteᵀ (the tied unembedding, a GEMM in the forward's precision, no bias), then each row's
    /// log-softmax (<see cref="LogSoftmax"/>), handed to the sink a block of rows at a time.
    /// </summary>
    private void UnembedLogSoftmax(int m, ILogProbSink sink)
    {
        int d = _c.NEmbd, v = _c.VocabSize, block = LogSoftmax.RowsPerBlock(v, m);
        Ensure(ref _logits, (long)block * v);
        var (wteT, zeros) = TransposedEmbedding();
        fixed (float* x = _x, ln = _ln, logits = _logits, w = wteT, b = zeros)
        {
            CpuMath.LayerNorm(x, ln, W("ln_f.weight"), W("ln_f.bias"), m, d, _c.LayerNormEpsilon);
            for (int r0 = 0; r0 < m; r0 += block)
            {
                int rows = Math.Min(block, m - r0);
                CpuMath.MatMulBias(ln + (long)r0 * d, w, b, logits, rows, d, v, gelu: false, precision);
                var span = new Span<float>(logits, rows * v);
                LogSoftmax.InPlace(span, v);
                sink.OnLogProbs(r0, rows, v, span);
            }
        }
    }

    /// <summary>wteᵀ [d, V] in float32 (the Conv1D layout the GEMM takes) and a zero bias, built on first use.</summary>
    private (float[] WteT, float[] Zeros) TransposedEmbedding()
    {
        if (_wteT.Length > 0) return (_wteT, _zeroBias);
        _zeroBias = new float[_c.VocabSize];
        return (_wteT = weights.UnembeddingMatrix(), _zeroBias);
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
