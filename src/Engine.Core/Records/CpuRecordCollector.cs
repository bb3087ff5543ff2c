using NeuronEngine.Forward;
using NeuronEngine.Numerics;

namespace NeuronEngine.Records;

/// <summary>
/// The managed record collector (docs/design.md §4), a sink of the forward pass: per neuron of every requested layer it
/// keeps the top-k windows by window maximum, a seeded uniform sample of windows, samples within the quantile bands
/// of the window-max distribution (bands fixed beforehand by <see cref="QuantileBoundaries"/>) and the moments of
/// all its activations. Batches must arrive in ascending window order per layer (the moments are summed in corpus
/// order, value by value, so a resumed run is bit-identical to an uninterrupted one; the record kernels merge per-window
/// moments instead and agree to double rounding). Neurons are processed in parallel.
/// </summary>
public sealed class CpuRecordCollector : IMlpActivationSink
{
    private readonly Dictionary<int, LayerRecordState> _layers;

    public CpuRecordCollector(RecordShape shape, IReadOnlyDictionary<int, float[]> boundariesByLayer)
    {
        shape.Validate();
        Shape = shape;
        _layers = boundariesByLayer.ToDictionary(kv => kv.Key, kv => new LayerRecordState(kv.Key, shape, kv.Value));
    }

    public RecordShape Shape { get; }

    public IReadOnlyDictionary<int, LayerRecordState> Layers => _layers;

    /// <summary>Copies a checkpoint's state in (see <see cref="IRecordCollector.Restore"/>).</summary>
    public void Restore(IReadOnlyList<LayerRecordState> states)
    {
        foreach (var from in states)
        {
            var to = _layers.TryGetValue(from.Layer, out var t) && from.Shape == Shape ? t
                : throw new InvalidDataException($"the checkpoint's layer {from.Layer} does not belong to this run");
            foreach (var (a, b) in new[] { (from.Top, to.Top), (from.Random, to.Random), (from.Quantile, to.Quantile) })
            {
                a.Keys.CopyTo(b.Keys, 0);
                a.Activations.CopyTo(b.Activations, 0);
                for (int g = 0; g < b.Groups; g++) b.CachedWorst[g] = b.WorstSlot(g);
            }
            from.Moments.CopyTo(to.Moments, 0);
            from.Boundaries.CopyTo(to.Boundaries, 0);
        }
    }

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        if (!_layers.TryGetValue(layer, out var state)) return;
        int neurons = Shape.Neurons;
        if (seqLen != Shape.SeqLen || activations.Length != (long)windows * seqLen * neurons)
            throw new ArgumentException($"layer {layer}: expected [{windows}, {Shape.SeqLen}, {neurons}] activations, got {activations.Length} values of windows of {seqLen}");
        if (firstWindow < 0 || firstWindow + windows > RecordKeys.MaxWindows)
            throw new ArgumentException($"window index {firstWindow + windows} exceeds the {RecordKeys.MaxWindows} the record keys can hold");
        var maxes = WindowMaxima(activations, windows, seqLen, neurons);
        unsafe
        {
            fixed (float* pActs = activations)
            {
                var acts = (IntPtr)pActs;
                long count = (long)windows * seqLen * neurons;
                const int chunk = 64;
                Parallel.For(0, (neurons + chunk - 1) / chunk, c =>
                {
                    var all = new ReadOnlySpan<float>((float*)acts, (int)count);
                    int from = c * chunk, to = Math.Min(neurons, (c + 1) * chunk);
                    for (int n = from; n < to; n++) CollectNeuron(state, n, firstWindow, windows, all, maxes);
                    AddMoments(state.Moments, from, to, neurons, all);
                });
            }
        }
    }

    /// <summary>maxes[w·N + n] = max over t of activations[w, t, n] (comparison order as in the device kernel).</summary>
    public static float[] WindowMaxima(ReadOnlySpan<float> activations, int windows, int seqLen, int neurons)
    {
        var maxes = new float[windows * neurons];
        for (int w = 0; w < windows; w++)
        {
            var row = maxes.AsSpan(w * neurons, neurons);
            activations.Slice(w * seqLen * neurons, neurons).CopyTo(row);
            for (int t = 1; t < seqLen; t++)
            {
                var a = activations.Slice((w * seqLen + t) * neurons, neurons);
                for (int n = 0; n < neurons; n++) if (a[n] > row[n]) row[n] = a[n];
            }
        }
        return maxes;
    }

    private void CollectNeuron(LayerRecordState s, int n, long firstWindow, int windows, ReadOnlySpan<float> acts, float[] maxes)
    {
        int neurons = Shape.Neurons, seqLen = Shape.SeqLen, layer = s.Layer;
        var boundaries = s.Boundaries.AsSpan(n * RecordShape.Boundaries, RecordShape.Boundaries);
        for (int w = 0; w < windows; w++)
        {
            uint window = (uint)(firstWindow + w);
            float max = maxes[w * neurons + n];
            Offer(s.Top, n, RecordKeys.TopKey(max, window), acts, w, n);
            Offer(s.Random, n, RecordKeys.SampleKey(RecordKeys.Hash(Shape.Seed, layer, n, window, RecordKeys.RandomSalt), window), acts, w, n);
            int band = LayerRecordState.BandOf(boundaries, max);
            Offer(s.Quantile, n * RecordShape.Bands + band,
                RecordKeys.SampleKey(RecordKeys.Hash(Shape.Seed, layer, n, window, RecordKeys.QuantileSalt), window), acts, w, n);
        }
    }

    /// <summary>
    /// Adds every activation of neurons [from, to) to their moments. Rows (window, token) outer and neurons inner, so
    /// reads are contiguous; per neuron the values still arrive in (window, token) order, one <see cref="MomentSums.Add"/>
    /// each. (The record kernels sum each window's tokens the same way, then merge the windows in order: equal up to
    /// double rounding, not bit for bit.)
    /// </summary>
    private static void AddMoments(double[] moments, int from, int to, int neurons, ReadOnlySpan<float> acts)
    {
        int width = to - from;
        Span<MomentSums> sums = stackalloc MomentSums[width];
        for (int j = 0; j < width; j++) sums[j] = Moments.Load(moments.AsSpan((from + j) * Moments.Stride, Moments.Stride));
        for (int row = 0; row < acts.Length; row += neurons)
        {
            var values = acts.Slice(row + from, width);
            for (int j = 0; j < width; j++) sums[j] = MomentSums.Add(sums[j], values[j]);
        }
        for (int j = 0; j < width; j++) Moments.Store(sums[j], moments.AsSpan((from + j) * Moments.Stride, Moments.Stride));
    }

    /// <summary>Puts the window into the group's reservoir if its key beats the worst kept one.</summary>
    private void Offer(Reservoir r, int group, ulong key, ReadOnlySpan<float> acts, int w, int n)
    {
        if (r.Capacity == 0) return;
        int slot = group * r.Capacity + r.CachedWorst[group];
        if (key >= r.Keys[slot]) return;
        r.Keys[slot] = key;
        int neurons = Shape.Neurons, seqLen = Shape.SeqLen;
        var dest = r.Activations.AsSpan(slot * seqLen, seqLen);
        for (int t = 0; t < seqLen; t++) dest[t] = acts[(w * seqLen + t) * neurons + n];
        r.CachedWorst[group] = r.WorstSlot(group);
    }
}
