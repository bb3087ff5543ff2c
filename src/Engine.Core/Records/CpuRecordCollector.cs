using NeuronEngine.Runtime;

namespace NeuronEngine.Records;

/// <summary>
/// The managed record collector (DESIGN §4), a sink of the forward pass: per neuron of every requested layer it
/// keeps the top-k windows by window maximum, a seeded uniform sample of windows, samples within the quantile bands
/// of the window-max distribution (bands fixed beforehand by <see cref="QuantileBoundaries"/>) and the moments of
/// all its activations. Batches must arrive in ascending window order per layer (the moments are summed in corpus
/// order, value by value, exactly like the device kernels). Neurons are processed in parallel.
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
                    for (int n = c * chunk; n < Math.Min(neurons, (c + 1) * chunk); n++)
                        CollectNeuron(state, n, firstWindow, windows, all, maxes);
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
        // Moments.Add inlined into locals (the same operations in the same order as Moments.Add and the device kernel).
        var m = s.Moments.AsSpan(n * Moments.Stride, Moments.Stride);
        double count = m[Moments.Count], mean = m[Moments.Mean], m2 = m[Moments.M2], m3 = m[Moments.M3], m4 = m[Moments.M4];
        for (int i = n; i < acts.Length; i += neurons)
        {
            double x = acts[i], n1 = count, nn = n1 + 1;
            double delta = x - mean, dn = delta / nn, dn2 = dn * dn, term1 = delta * dn * n1;
            mean += dn;
            m4 += term1 * dn2 * (nn * nn - 3 * nn + 3) + 6 * dn2 * m2 - 4 * dn * m3;
            m3 += term1 * dn * (nn - 2) - 3 * dn * m2;
            m2 += term1;
            count = nn;
        }
        m[Moments.Count] = count; m[Moments.Mean] = mean; m[Moments.M2] = m2; m[Moments.M3] = m3; m[Moments.M4] = m4;
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
