using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;
using NeuronEngine.Records;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Numerics;

namespace NeuronEngine.Runtime.Records;

/// <summary>
/// The record collector on an ILGPU accelerator: the whole <see cref="LayerRecordState"/> of every requested layer
/// (reservoir keys and activations, moments, band boundaries) lives on the device; the forward pass hands each
/// layer's neurons over as a device view (<see cref="IDeviceActivationSink"/>) and the <see cref="RecordKernels"/>
/// update the state in place, on the forward pass's stream, so nothing crosses to the host until
/// <see cref="Collect"/>. Host activations (<see cref="OnMlpActivations"/>) are uploaded first — used by tests to feed
/// both collectors identical input. Selections equal the CPU collector's exactly; moments agree to double
/// rounding (per-window moments merged pairwise instead of one value at a time, and the GPU may contract a·b + c
/// into FMAs), tested to 1e-12 relative on the CPU accelerator.
/// </summary>
public sealed class IlgpuRecordCollector : IDeviceActivationSink, IRecordCollector
{
    private sealed class LayerBuffers(Accelerator a, RecordShape s, float[] boundaries) : IDisposable
    {
        public readonly MemoryBuffer1D<ulong, Stride1D.Dense> TopKeys = Keys(a, s.Neurons * s.TopK);
        public readonly MemoryBuffer1D<float, Stride1D.Dense> TopActs = a.Allocate1D<float>(Math.Max(1L, (long)s.Neurons * s.TopK * s.SeqLen));
        public readonly MemoryBuffer1D<ulong, Stride1D.Dense> RandomKeys = Keys(a, s.Neurons * s.RandomCount);
        public readonly MemoryBuffer1D<float, Stride1D.Dense> RandomActs = a.Allocate1D<float>(Math.Max(1L, (long)s.Neurons * s.RandomCount * s.SeqLen));
        public readonly MemoryBuffer1D<ulong, Stride1D.Dense> QuantileKeys = Keys(a, s.Neurons * RecordShape.Bands * s.PerBand);
        public readonly MemoryBuffer1D<float, Stride1D.Dense> QuantileActs = a.Allocate1D<float>(Math.Max(1L, (long)s.Neurons * RecordShape.Bands * s.PerBand * s.SeqLen));
        public readonly MemoryBuffer1D<double, Stride1D.Dense> Moments = Zeros<double>(a, s.Neurons * NeuronEngine.Records.Moments.Stride);
        public readonly MemoryBuffer1D<float, Stride1D.Dense> Boundaries = Upload(a, boundaries);

        public void Dispose()
        {
            foreach (var b in new MemoryBuffer[] { TopKeys, TopActs, RandomKeys, RandomActs, QuantileKeys, QuantileActs, Moments, Boundaries }) b.Dispose();
        }
    }

    private readonly Accelerator _accelerator;
    private readonly RecordShape _shape;
    private readonly RecordOps _ops;
    private readonly Dictionary<int, LayerBuffers> _layers;
    private MemoryBuffer1D<float, Stride1D.Dense>? _maxes, _upload;
    private MemoryBuffer1D<double, Stride1D.Dense>? _partialMoments;

    public IlgpuRecordCollector(Accelerator accelerator, RecordShape shape, IReadOnlyDictionary<int, float[]> boundariesByLayer)
    {
        shape.Validate();
        _accelerator = accelerator; _shape = shape;
        _ops = new RecordOps(accelerator);
        _layers = boundariesByLayer.ToDictionary(kv => kv.Key, kv =>
        {
            if (kv.Value.Length != shape.Neurons * RecordShape.Boundaries)
                throw new ArgumentException($"layer {kv.Key}: expected {shape.Neurons * RecordShape.Boundaries} quantile boundaries, got {kv.Value.Length}");
            return new LayerBuffers(accelerator, shape, kv.Value);
        });
    }

    public void OnDeviceActivations(Accelerator accelerator, int layer, long firstWindow, int windows, int seqLen, ArrayView<float> activations)
    {
        if (!_layers.TryGetValue(layer, out var l)) return;
        if (accelerator != _accelerator) throw new ArgumentException("the activations live on another accelerator than the record collector");
        int n = _shape.Neurons;
        if (seqLen != _shape.SeqLen || activations.Length != (long)windows * seqLen * n)
            throw new ArgumentException($"layer {layer}: expected [{windows}, {_shape.SeqLen}, {n}] activations, got {activations.Length} values of windows of {seqLen}");
        if (firstWindow < 0 || firstWindow + windows > RecordKeys.MaxWindows)
            throw new ArgumentException($"window index {firstWindow + windows} exceeds the {RecordKeys.MaxWindows} the record keys can hold");
        Ensure(ref _maxes, (long)windows * n);
        if (_partialMoments is null || _partialMoments.Length < (long)windows * n * NeuronEngine.Records.Moments.Stride)
        {
            _partialMoments?.Dispose();
            _partialMoments = _accelerator.Allocate1D<double>((long)windows * n * NeuronEngine.Records.Moments.Stride);
        }
        var s = _accelerator.DefaultStream;
        var maxes = _maxes!.View.SubView(0, (long)windows * n);
        RecordBatch Batch(int capacity) => new(windows, seqLen, n, firstWindow, layer, _shape.Seed, capacity);
        _ops.WindowMax(s, activations, maxes, Batch(0));
        _ops.Moments(s, activations, _partialMoments.View, l.Moments.View, Batch(0));
        _ops.SelectTop(s, activations, maxes, l.TopKeys.View, l.TopActs.View, Batch(_shape.TopK));
        _ops.SelectRandom(s, activations, l.RandomKeys.View, l.RandomActs.View, Batch(_shape.RandomCount));
        _ops.SelectQuantile(s, activations, maxes, l.Boundaries.View, l.QuantileKeys.View, l.QuantileActs.View, Batch(_shape.PerBand));
    }

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        if (!_layers.ContainsKey(layer)) return;
        Ensure(ref _upload, activations.Length);
        var view = _upload!.View.SubView(0, activations.Length);
        view.AsContiguous().CopyFromCPU(activations);
        OnDeviceActivations(_accelerator, layer, firstWindow, windows, seqLen, view);
        _accelerator.DefaultStream.Synchronize();
    }

    public IReadOnlyList<LayerRecordState> Collect()
    {
        _accelerator.DefaultStream.Synchronize();
        var result = new List<LayerRecordState>();
        foreach (var (layer, l) in _layers.OrderBy(kv => kv.Key))
        {
            var state = new LayerRecordState(layer, _shape, l.Boundaries.GetAsArray1D());
            Download(l.TopKeys, state.Top.Keys); Download(l.TopActs, state.Top.Activations);
            Download(l.RandomKeys, state.Random.Keys); Download(l.RandomActs, state.Random.Activations);
            Download(l.QuantileKeys, state.Quantile.Keys); Download(l.QuantileActs, state.Quantile.Activations);
            Download(l.Moments, state.Moments);
            result.Add(state);
        }
        return result;
    }

    public void Restore(IReadOnlyList<LayerRecordState> states)
    {
        foreach (var state in states)
        {
            var l = _layers.TryGetValue(state.Layer, out var b) && state.Shape == _shape ? b
                : throw new InvalidDataException($"the checkpoint's layer {state.Layer} does not belong to this run");
            Upload(state.Top.Keys, l.TopKeys); Upload(state.Top.Activations, l.TopActs);
            Upload(state.Random.Keys, l.RandomKeys); Upload(state.Random.Activations, l.RandomActs);
            Upload(state.Quantile.Keys, l.QuantileKeys); Upload(state.Quantile.Activations, l.QuantileActs);
            Upload(state.Moments, l.Moments); Upload(state.Boundaries, l.Boundaries);
        }
    }

    private static void Upload<T>(T[] source, MemoryBuffer1D<T, Stride1D.Dense> buffer) where T : unmanaged
    {
        if (source.Length > 0) buffer.View.SubView(0, source.Length).AsContiguous().CopyFromCPU(source);
    }

    private static void Download<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer, T[] destination) where T : unmanaged
    {
        if (destination.Length > 0) buffer.View.SubView(0, destination.Length).AsContiguous().CopyToCPU(destination);
    }

    private static MemoryBuffer1D<ulong, Stride1D.Dense> Keys(Accelerator a, int count)
    {
        var host = new ulong[Math.Max(1, count)];
        Array.Fill(host, RecordKeys.Empty);
        return Upload(a, host);
    }

    private static MemoryBuffer1D<T, Stride1D.Dense> Zeros<T>(Accelerator a, int count) where T : unmanaged => Upload(a, new T[Math.Max(1, count)]);

    private static MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(Accelerator a, T[] host) where T : unmanaged => a.Upload<T>(host);

    private void Ensure(ref MemoryBuffer1D<float, Stride1D.Dense>? buffer, long length)
    {
        if (buffer is not null && buffer.Length >= length) return;
        buffer?.Dispose();
        buffer = _accelerator.Allocate1D<float>(Math.Max(1, length));
    }

    public void Dispose()
    {
        foreach (var l in _layers.Values) l.Dispose();
        _maxes?.Dispose();
        _upload?.Dispose();
        _partialMoments?.Dispose();
    }
}
