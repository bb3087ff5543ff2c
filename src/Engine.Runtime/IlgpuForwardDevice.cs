using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Forward;

namespace NeuronEngine.Runtime;

/// <summary>
/// GPT-2's forward pass as our own ILGPU kernels (cuda, opencl, ilgpu-cpu). Weights are uploaded once;
/// activation buffers grow to the largest batch and are reused. After each requested layer's GELU the
/// neurons are handed to the sink — a device sink gets the device view, a host sink a copy — and the pass
/// stops after the last requested layer, unless log-probabilities are asked for (final LayerNorm, the tied unembedding
/// as a device GEMM, log-softmax on the host). The four GEMMs run in the device's precision (fp32 on CUDA cores, or tf32/bf16
/// on tensor cores: <see cref="GemmOp"/>); everything else is float32.
/// </summary>
public sealed class IlgpuForwardDevice : IForwardDevice
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly Gpt2Config _c;
    private readonly ElementwiseOps _elementwise;
    private readonly EmbeddingOp _embedding;
    private readonly LayerNormOp _layerNorm;
    private readonly GemmOp _gemm;
    private readonly AttentionOp _attention;
    private readonly DeviceWeights _weights;
    private MemoryBuffer1D<int, Stride1D.Dense>? _tokens;
    private MemoryBuffer1D<float, Stride1D.Dense>? _x, _ln, _qkv, _att, _proj, _h;
    private MemoryBuffer1D<float, Stride1D.Dense>? _logits, _patchValues;
    private MemoryBuffer1D<int, Stride1D.Dense>? _fanOutMap, _patchNeurons;
    private float[] _hostNeurons = [], _hostLogits = [];
    private int _capacityTokens;

    public string Name { get; }
    public Accelerator Accelerator => _accelerator;
    public MatMulPrecision Precision => _gemm.Precision;
    public int DefaultBatchWindows { get; }

    /// <summary>Per-layer wall time; the stream is synchronised after each layer while this is set.</summary>
    public double[]? LayerMilliseconds { get; set; }

    public IlgpuForwardDevice(string name, Context context, Accelerator accelerator, Gpt2Weights weights,
        MatMulPrecision precision = MatMulPrecision.Fp32)
    {
        Name = name; _context = context; _accelerator = accelerator; _c = weights.Config;
        DefaultBatchWindows = accelerator.AcceleratorType == AcceleratorType.CPU ? 2 : 256;
        _elementwise = new ElementwiseOps(accelerator);
        _embedding = new EmbeddingOp(accelerator);
        _layerNorm = new LayerNormOp(accelerator);
        _gemm = new GemmOp(accelerator, precision);
        _attention = new AttentionOp(accelerator);
        _weights = new DeviceWeights(accelerator, weights, _elementwise);
    }

    public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, IReadOnlyCollection<int> layers, IMlpActivationSink sink, long firstWindow) =>
        Run(tokens, windows, seqLen, new ForwardRequest { Layers = layers, Sink = sink, FirstWindow = firstWindow });

    public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, ForwardRequest request)
    {
        int m = windows * seqLen, d = _c.NEmbd, last = request.LastLayer(_c.NLayer), elements = request.Elements(windows);
        _c.ValidateBatch(tokens, windows, seqLen, last);
        request.Validate(windows, seqLen, _c.DMlp, last);
        EnsureCapacity(Math.Max(windows, elements) * seqLen);
        var s = _accelerator.DefaultStream;
        _tokens!.View.SubView(0, m).AsContiguous().CopyFromCPU(tokens);
        _embedding.Launch(s, _tokens.View, _weights.Wte.View, _weights.Wpe.View, _weights.EmbeddingFormat, _x!.View, m, seqLen, d);  // x = wte[tok] + wpe[pos]
        if (request.FanOut is { } map)
        {
            // Layers below the first patch are the same for every element of a window: once per window, then copy.
            int split = request.FanOutLayer(last);
            RunLayers(0, Math.Min(split, last + 1) - 1, windows, seqLen, request, fullLastLayer: true);
            _proj!.View.SubView(0, (long)m * d).CopyFrom(s, _x.View.SubView(0, (long)m * d));
            var mapView = Upload(ref _fanOutMap, map);
            _elementwise.GatherRows(s, _proj.View, _x.View, mapView, elements, seqLen * d);
            RunLayers(split, last, elements, seqLen, request, fullLastLayer: request.LogProbs is not null);
        }
        else RunLayers(0, last, windows, seqLen, request, fullLastLayer: request.LogProbs is not null);
        if (request.LogProbs is { } logProbs) UnembedLogSoftmax(elements * seqLen, logProbs);
        s.Synchronize();
    }

    /// <summary>Copies host values into a device buffer grown to fit (synchronously: the host array may change next).</summary>
    private ArrayView<T> Upload<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, ReadOnlySpan<T> values) where T : unmanaged
    {
        if (buffer is null || buffer.Length < values.Length)
        {
            buffer?.Dispose();
            buffer = _accelerator.Allocate1D<T>(Math.Max(1, values.Length));
        }
        var view = buffer.View.SubView(0, values.Length);
        view.CopyFromCPU(_accelerator.DefaultStream, values);
        _accelerator.DefaultStream.Synchronize();
        return view;
    }

    /// <summary>The patches of <paramref name="layer"/> applied to h on the device (nothing when none is at this layer).</summary>
    private void Patch(IReadOnlyList<MlpPatch?> patches, int layer, ArrayView<float> h, int elements, int seqLen)
    {
        if (!patches.Any(p => p?.Layer == layer)) return;
        var neurons = new int[elements];
        var values = new float[elements * seqLen];
        for (int e = 0; e < elements; e++)
        {
            if (patches[e] is { } p && p.Layer == layer)
            {
                neurons[e] = p.Neuron;
                p.Values.CopyTo(values, e * seqLen);
            }
            else neurons[e] = -1;
        }
        var n = Upload(ref _patchNeurons, neurons);
        var v = Upload(ref _patchValues, values);
        _elementwise.PatchNeurons(_accelerator.DefaultStream, h, n, v, elements, seqLen, _c.DMlp);
    }

    /// <summary>Layers [first, last] on the residual stream in _x; the last stops after its GELU unless <paramref name="fullLastLayer"/>.</summary>
    private void RunLayers(int first, int last, int windows, int seqLen, ForwardRequest request, bool fullLastLayer)
    {
        int m = windows * seqLen, d = _c.NEmbd;
        var s = _accelerator.DefaultStream;
        var x = _x!.View; var ln = _ln!.View; var qkv = _qkv!.View; var att = _att!.View; var proj = _proj!.View; var h = _h!.View;
        var clock = Stopwatch.StartNew();
        for (int l = first; l <= last; l++)
        {
            var w = _weights.Get(l);
            _layerNorm.Launch(s, x, ln, w.Ln1W.View, w.Ln1B.View, m, d, _c.LayerNormEpsilon);
            _gemm.Launch(s, ln, w.AttnW.View, w.AttnB.View, qkv, m, d, 3 * d, gelu: false);      // qkv = LN1(x)·Wqkv + b
            _attention.Launch(s, qkv, att, windows, seqLen, d, _c.NHead);                      // causal softmax(q·kᵀ/√dh)·v
            _gemm.Launch(s, att, w.AttnProjW.View, w.AttnProjB.View, proj, m, d, d, gelu: false);
            _elementwise.AddInPlace(s, x, proj, m * d);                                         // x += attn
            _layerNorm.Launch(s, x, ln, w.Ln2W.View, w.Ln2B.View, m, d, _c.LayerNormEpsilon);
            _gemm.Launch(s, ln, w.FcW.View, w.FcB.View, h, m, d, 4 * d, gelu: true);            // h = GELU(LN2(x)·Wfc + b): the neurons
            if (request.Layers.Contains(l)) Deliver(request.Sink, l, request.FirstWindow, windows, seqLen, h.SubView(0, (long)m * 4 * d));
            if (request.Patches is { } patches) Patch(patches, l, h, windows, seqLen);
            if (l < last || fullLastLayer)
            {
                _gemm.Launch(s, h, w.FcProjW.View, w.FcProjB.View, proj, m, 4 * d, d, gelu: false);
                _elementwise.AddInPlace(s, x, proj, m * d);                                     // x += mlp
            }
            if (LayerMilliseconds is { } times)
            {
                s.Synchronize();
                times[l] += clock.Elapsed.TotalMilliseconds;
                clock.Restart();
            }
        }
    }

    /// <summary>
    /// logits = LN_f(x)·wteᵀ on the device (the op's GEMM, in its precision; wteᵀ uploaded once as float32), a block of
    /// rows at a time; each block is copied back and turned into log-probabilities on the host (<see cref="LogSoftmax"/>).
    /// </summary>
    private void UnembedLogSoftmax(int m, ILogProbSink sink)
    {
        int d = _c.NEmbd, v = _c.VocabSize, block = LogSoftmax.RowsPerBlock(v, m);
        var s = _accelerator.DefaultStream;
        var head = _weights.Head();
        if (_logits is null || _logits.Length < (long)block * v)
        {
            _logits?.Dispose();
            _logits = _accelerator.Allocate1D<float>((long)block * v);
        }
        if (_hostLogits.Length < (long)block * v) _hostLogits = GC.AllocateUninitializedArray<float>(block * v, pinned: true);
        _layerNorm.Launch(s, _x!.View, _ln!.View, head.LnFW.View, head.LnFB.View, m, d, _c.LayerNormEpsilon);
        for (int r0 = 0; r0 < m; r0 += block)
        {
            int rows = Math.Min(block, m - r0);
            _gemm.Launch(s, _ln.View.SubView((long)r0 * d, (long)rows * d), head.WteT.View, head.ZeroBias.View, _logits.View, rows, d, v, gelu: false);
            var host = _hostLogits.AsSpan(0, rows * v);
            _logits.View.SubView(0, (long)rows * v).CopyToCPU(s, host);
            s.Synchronize();
            LogSoftmax.InPlace(host, v);
            sink.OnLogProbs(r0, rows, v, host);
        }
    }

    /// <summary>
    /// Hands a layer's neurons to the sink, or to each member of a <see cref="FanOutSink"/> in order: a device sink gets
    /// the device view (nothing crosses to the host), the host sinks share one copy.
    /// </summary>
    private void Deliver(IMlpActivationSink sink, int layer, long firstWindow, int windows, int seqLen, ArrayView<float> neurons)
    {
        var host = Span<float>.Empty;
        foreach (var s in sink is FanOutSink fanOut ? fanOut.Sinks : [sink])
        {
            if (s is IDeviceActivationSink deviceSink)
            {
                deviceSink.OnDeviceActivations(_accelerator, layer, firstWindow, windows, seqLen, neurons);
                continue;
            }
            if (s is NullActivationSink) continue;
            if (host.IsEmpty)
            {
                int n = (int)neurons.Length;
                if (_hostNeurons.Length < n) _hostNeurons = GC.AllocateUninitializedArray<float>(n, pinned: true);
                host = _hostNeurons.AsSpan(0, n);
                neurons.CopyToCPU(_accelerator.DefaultStream, host);
            }
            s.OnMlpActivations(layer, firstWindow, windows, seqLen, host);
        }
    }

    private void EnsureCapacity(int m)
    {
        if (m <= _capacityTokens) return;
        DisposeActivations();
        int d = _c.NEmbd;
        _tokens = _accelerator.Allocate1D<int>(m);
        _x = _accelerator.Allocate1D<float>((long)m * d);
        _ln = _accelerator.Allocate1D<float>((long)m * d);
        _qkv = _accelerator.Allocate1D<float>((long)m * 3 * d);
        _att = _accelerator.Allocate1D<float>((long)m * d);
        _proj = _accelerator.Allocate1D<float>((long)m * d);
        _h = _accelerator.Allocate1D<float>((long)m * 4 * d);
        _capacityTokens = m;
    }

    private void DisposeActivations()
    {
        foreach (var b in new MemoryBuffer?[] { _tokens, _x, _ln, _qkv, _att, _proj, _h }) b?.Dispose();
        _capacityTokens = 0;
    }

    public void Dispose()
    {
        DisposeActivations();
        foreach (var b in new MemoryBuffer?[] { _logits, _patchValues, _fanOutMap, _patchNeurons }) b?.Dispose();
        _weights.Dispose();
        _accelerator.Dispose();
        _context.Dispose();
    }
}
