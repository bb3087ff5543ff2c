using System.Text.Json.Serialization;
using NeuronEngine.Forward;

namespace NeuronEngine.Precision;

/// <summary>
/// |x| values counted in logarithmic bins (64 per octave from 2⁻⁴⁰ to 2¹⁶, plus exact zero), for quantiles of billions
/// of values in constant memory: a quantile is reported as the upper edge of its bin, at most 1.1% above the exact
/// value (never below it).
/// </summary>
public sealed class LogHistogram
{
    private const int PerOctave = 64, MinExponent = -40, MaxExponent = 16;
    private const int Bins = (MaxExponent - MinExponent) * PerOctave;
    private readonly long[] _counts = new long[Bins + 2];   // [0]: zeros and below 2⁻⁴⁰; [Bins + 1]: 2¹⁶ and above
    public long Count { get; private set; }
    public double Max { get; private set; }

    public void Add(double v)
    {
        v = Math.Abs(v);
        if (double.IsNaN(v)) return;
        Count++;
        if (v > Max) Max = v;
        _counts[Index(v)]++;
    }

    /// <summary>
    /// Adds the first <paramref name="count"/> values (as |v|) on every core, in chunks whose histograms are merged:
    /// the same counts and maximum as adding them one by one (a count does not depend on the order). This is what keeps
    /// `engine precision-effect` from being host-bound: a gpt2-xl batch hands over hundreds of millions of values.
    /// </summary>
    public void AddAll(float[] values, int count) =>
        AddInParallel(count, (h, from, to) => { for (int i = from; i < to; i++) h.Add(values[i]); });

    /// <summary>Adds |values[i] − reference[i]| (in double) for the first <paramref name="count"/> pairs, as <see cref="AddAll"/>.</summary>
    public void AddDifferences(float[] values, float[] reference, int count) =>
        AddInParallel(count, (h, from, to) => { for (int i = from; i < to; i++) h.Add((double)values[i] - reference[i]); });

    private const int ParallelChunk = 1 << 18;

    private void AddInParallel(int count, Action<LogHistogram, int, int> addRange)
    {
        if (count <= ParallelChunk)
        {
            addRange(this, 0, count);
            return;
        }
        int chunks = (count + ParallelChunk - 1) / ParallelChunk;
        Parallel.For(0, chunks, () => new LogHistogram(),
            (c, _, local) =>
            {
                addRange(local, c * ParallelChunk, (int)Math.Min(count, (long)(c + 1) * ParallelChunk));
                return local;
            },
            local => { lock (_counts) Merge(local); });
    }

    public void Merge(LogHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The q-quantile (0 &lt; q ≤ 1) as its bin's upper edge (capped by the maximum seen); 0 when empty.</summary>
    public double Quantile(double q)
    {
        if (Count == 0) return 0;
        long rank = (long)Math.Ceiling(q * Count), seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return Math.Min(UpperEdge(i), Max);
        }
        return Max;
    }

    private static int Index(double v)
    {
        if (v < Math.ScaleB(1.0, MinExponent)) return 0;
        double bin = (Math.Log2(v) - MinExponent) * PerOctave;
        return bin >= Bins ? Bins + 1 : 1 + (int)bin;
    }

    private static double UpperEdge(int i) =>
        i == 0 ? Math.ScaleB(1.0, MinExponent) : i > Bins ? double.PositiveInfinity : Math.Pow(2, MinExponent + (double)i / PerOctave);
}

/// <summary>
/// Per neuron, the top-k windows by window maximum (ties → the lower window), as `engine records` selects its top
/// records, and the neuron's maximum activation. Windows must arrive in ascending order (a later window never displaces
/// an equal earlier one).
/// </summary>
public sealed class TopWindows
{
    private readonly int _k;
    private readonly float[] _values;    // [neuron, slot], descending within a neuron
    private readonly long[] _windows;
    private readonly int[] _filled;

    public TopWindows(int neurons, int k)
    {
        _k = k;
        _values = new float[(long)neurons * k];
        _windows = new long[(long)neurons * k];
        _filled = new int[neurons];
    }

    public int Neurons => _filled.Length;
    public int K => _k;

    /// <summary>Window maxima of a batch ([windows, seqLen, neurons] activations), offered per neuron in window order.</summary>
    public void Add(long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        int neurons = Neurons;
        var maxima = new float[(long)windows * neurons];
        for (int w = 0; w < windows; w++)
        {
            var m = maxima.AsSpan(w * neurons, neurons);
            m.Fill(float.NegativeInfinity);
            for (int t = 0; t < seqLen; t++)
            {
                var row = activations.Slice((w * seqLen + t) * neurons, neurons);
                for (int n = 0; n < neurons; n++)
                    if (row[n] > m[n]) m[n] = row[n];
            }
        }
        Parallel.For(0, neurons, n =>
        {
            for (int w = 0; w < windows; w++) Offer(n, maxima[(long)w * neurons + n], firstWindow + w);
        });
    }

    private void Offer(int neuron, float value, long window)
    {
        if (float.IsNaN(value)) return;
        long at = (long)neuron * _k;
        int filled = _filled[neuron];
        if (filled == _k && !(value > _values[at + _k - 1])) return;
        int i = filled == _k ? _k - 1 : filled;
        while (i > 0 && value > _values[at + i - 1])
        {
            _values[at + i] = _values[at + i - 1];
            _windows[at + i] = _windows[at + i - 1];
            i--;
        }
        _values[at + i] = value;
        _windows[at + i] = window;
        if (filled < _k) _filled[neuron] = filled + 1;
    }

    /// <summary>The neuron's windows, best first.</summary>
    public ReadOnlySpan<long> Windows(int neuron) => _windows.AsSpan((int)((long)neuron * _k), _filled[neuron]);

    /// <summary>The neuron's maximum activation (over every token seen); −∞ if none.</summary>
    public float Max(int neuron) => _filled[neuron] > 0 ? _values[(long)neuron * _k] : float.NegativeInfinity;
}

/// <summary>How one precision's activations and top windows compare with the reference's, over all compared layers.</summary>
public sealed record PrecisionEffectReport
{
    [JsonPropertyName("precision")] public required string Precision { get; init; }
    [JsonPropertyName("values")] public required long Values { get; init; }
    [JsonPropertyName("max_abs_diff")] public required double MaxAbsDiff { get; init; }
    [JsonPropertyName("p999_abs_diff")] public required double P999AbsDiff { get; init; }
    [JsonPropertyName("p99_abs_diff")] public required double P99AbsDiff { get; init; }
    [JsonPropertyName("median_abs_diff")] public required double MedianAbsDiff { get; init; }
    [JsonPropertyName("neurons")] public required int Neurons { get; init; }
    [JsonPropertyName("top_k")] public required int TopK { get; init; }
    /// <summary>Neurons whose top-k windows are the same set as the reference's.</summary>
    [JsonPropertyName("identical_top_sets")] public required double IdenticalTopSets { get; init; }
    /// <summary>Neurons whose top-k windows are the same windows in the same order.</summary>
    [JsonPropertyName("identical_top_lists")] public required double IdenticalTopLists { get; init; }
    /// <summary>Mean over neurons of |top ∩ reference top| / k.</summary>
    [JsonPropertyName("mean_top_overlap")] public required double MeanTopOverlap { get; init; }
    [JsonPropertyName("min_top_overlap")] public required double MinTopOverlap { get; init; }
    /// <summary>|max activation − reference max activation| per neuron: mean, p99, max.</summary>
    [JsonPropertyName("max_activation_change_mean")] public required double MaxActivationChangeMean { get; init; }
    [JsonPropertyName("max_activation_change_p99")] public required double MaxActivationChangeP99 { get; init; }
    [JsonPropertyName("max_activation_change_max")] public required double MaxActivationChangeMax { get; init; }
    /// <summary>The same change relative to the reference max activation (neurons with a positive max): mean, max.</summary>
    [JsonPropertyName("max_activation_relative_change_mean")] public required double MaxActivationRelativeChangeMean { get; init; }
    [JsonPropertyName("max_activation_relative_change_max")] public required double MaxActivationRelativeChangeMax { get; init; }
    [JsonPropertyName("layers")] public required List<LayerEffect> Layers { get; init; }
}

public sealed record LayerEffect(
    [property: JsonPropertyName("layer")] int Layer,
    [property: JsonPropertyName("max_abs_diff")] double MaxAbsDiff,
    [property: JsonPropertyName("p999_abs_diff")] double P999AbsDiff,
    [property: JsonPropertyName("identical_top_sets")] double IdenticalTopSets,
    [property: JsonPropertyName("mean_top_overlap")] double MeanTopOverlap);

/// <summary>
/// The reference run's side of a comparison: each layer's activations of the current batch (kept until every other
/// precision has run the same batch), the |activation| histogram and the per-neuron top windows.
/// </summary>
public sealed class ReferenceSink(IReadOnlyList<int> layers, int neuronsPerLayer, int topK) : IMlpActivationSink
{
    private readonly Dictionary<int, float[]> _batch = layers.ToDictionary(l => l, _ => Array.Empty<float>());
    public Dictionary<int, TopWindows> Top { get; } = layers.ToDictionary(l => l, _ => new TopWindows(neuronsPerLayer, topK));
    public LogHistogram Activations { get; } = new();

    public ReadOnlySpan<float> Batch(int layer) => _batch[layer];

    /// <summary>The layer's current batch as the array it is kept in.</summary>
    internal float[] BatchArray(int layer) => _batch[layer];

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        if (!_batch.ContainsKey(layer)) return;
        var copy = _batch[layer].Length == activations.Length ? _batch[layer] : new float[activations.Length];
        activations.CopyTo(copy);
        _batch[layer] = copy;
        Activations.AddAll(copy, copy.Length);
        Top[layer].Add(firstWindow, windows, seqLen, activations);
    }
}

/// <summary>A compared precision's side: |Δ| against the reference's batch, per layer, and its own top windows.</summary>
public sealed class ComparisonSink(string precision, ReferenceSink reference, IReadOnlyList<int> layers, int neuronsPerLayer, int topK) : IMlpActivationSink
{
    public string Precision { get; } = precision;
    public Dictionary<int, LogHistogram> Diffs { get; } = layers.ToDictionary(l => l, _ => new LogHistogram());
    public Dictionary<int, TopWindows> Top { get; } = layers.ToDictionary(l => l, _ => new TopWindows(neuronsPerLayer, topK));

    private float[] _copy = [];

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        if (!Diffs.TryGetValue(layer, out var diffs)) return;
        var expected = reference.BatchArray(layer);
        if (expected.Length != activations.Length) throw new InvalidOperationException($"layer {layer}: the reference batch has {expected.Length} values, this one {activations.Length}");
        if (_copy.Length < activations.Length) _copy = new float[activations.Length];
        activations.CopyTo(_copy);   // an array, so the differences can be binned on every core
        diffs.AddDifferences(_copy, expected, activations.Length);
        Top[layer].Add(firstWindow, windows, seqLen, activations);
    }

    /// <summary>The comparison over every layer.</summary>
    public PrecisionEffectReport Report()
    {
        var all = new LogHistogram();
        foreach (var h in Diffs.Values) all.Merge(h);
        var perLayer = new List<LayerEffect>();
        int neurons = 0, k = 0;
        double sets = 0, lists = 0, overlap = 0, minOverlap = 1;
        var changes = new List<double>();
        var relative = new List<double>();
        foreach (int layer in Diffs.Keys.Order())
        {
            var mine = Top[layer];
            var theirs = reference.Top[layer];
            k = mine.K;
            double layerSets = 0, layerOverlap = 0;
            for (int n = 0; n < mine.Neurons; n++)
            {
                var a = mine.Windows(n);
                var b = theirs.Windows(n);
                int common = a.ToArray().Intersect(b.ToArray()).Count();
                double o = b.Length == 0 ? 1 : (double)common / b.Length;
                bool sameSet = common == a.Length && a.Length == b.Length;
                layerSets += sameSet ? 1 : 0;
                lists += a.SequenceEqual(b) ? 1 : 0;
                layerOverlap += o;
                minOverlap = Math.Min(minOverlap, o);
                double change = Math.Abs((double)mine.Max(n) - theirs.Max(n));
                changes.Add(change);
                if (theirs.Max(n) > 0) relative.Add(change / theirs.Max(n));
            }
            neurons += mine.Neurons;
            sets += layerSets;
            overlap += layerOverlap;
            perLayer.Add(new LayerEffect(layer, Diffs[layer].Max, Diffs[layer].Quantile(0.999), layerSets / mine.Neurons, layerOverlap / mine.Neurons));
        }
        changes.Sort();
        return new PrecisionEffectReport
        {
            Precision = Precision,
            Values = all.Count,
            MaxAbsDiff = all.Max,
            P999AbsDiff = all.Quantile(0.999),
            P99AbsDiff = all.Quantile(0.99),
            MedianAbsDiff = all.Quantile(0.5),
            Neurons = neurons,
            TopK = k,
            IdenticalTopSets = neurons == 0 ? 0 : sets / neurons,
            IdenticalTopLists = neurons == 0 ? 0 : lists / neurons,
            MeanTopOverlap = neurons == 0 ? 0 : overlap / neurons,
            MinTopOverlap = minOverlap,
            MaxActivationChangeMean = changes.Count == 0 ? 0 : changes.Average(),
            MaxActivationChangeP99 = changes.Count == 0 ? 0 : changes[Math.Min(changes.Count - 1, (int)Math.Ceiling(0.99 * changes.Count) - 1)],
            MaxActivationChangeMax = changes.Count == 0 ? 0 : changes[^1],
            MaxActivationRelativeChangeMean = relative.Count == 0 ? 0 : relative.Average(),
            MaxActivationRelativeChangeMax = relative.Count == 0 ? 0 : relative.Max(),
            Layers = perLayer,
        };
    }
}
