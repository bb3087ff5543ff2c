namespace NeuronEngine.Records;

/// <summary>
/// What is kept per neuron: <see cref="TopK"/> top windows, <see cref="RandomCount"/> random windows,
/// <see cref="PerBand"/> windows in each of the <see cref="Bands"/> quantile bands, each with its
/// <see cref="SeqLen"/> activations, plus the moments. OpenAI's bands of the window-max distribution are
/// [0,.5], [.5,.9], [.9,.99], [.99,.999], [.999,1] (DESIGN §4), i.e. the interior boundaries
/// <see cref="BandQuantiles"/>.
/// </summary>
public sealed record RecordShape(int Neurons, int SeqLen, int TopK, int RandomCount, int PerBand, ulong Seed)
{
    public static readonly double[] BandQuantiles = [0.5, 0.9, 0.99, 0.999];
    public const int Bands = 5;
    public const int Boundaries = Bands - 1;

    public void Validate()
    {
        if (Neurons < 1) throw new ArgumentException("a layer needs at least one neuron");
        if (SeqLen < 1) throw new ArgumentException("--seq-len must be at least 1");
        if (TopK < 0 || RandomCount < 0 || PerBand < 0)
            throw new ArgumentException("--top-k, --random and --quantile-samples must not be negative");
        if (TopK > 1000 || RandomCount > 1000 || PerBand > 1000)
            throw new ArgumentException("--top-k, --random and --quantile-samples are limited to 1000 windows each");
    }
}

/// <summary>
/// A fixed-capacity selection per group (a neuron, or a neuron's quantile band): the <see cref="Capacity"/>
/// smallest keys offered so far (see <see cref="RecordKeys"/>) and each one's window activations. Slots are in no
/// particular order; <see cref="Sorted"/> orders them. Layout (shared with the device): Keys[g·c + s],
/// Activations[(g·c + s)·T + t].
/// </summary>
public sealed class Reservoir
{
    public int Groups { get; }
    public int Capacity { get; }
    public int SeqLen { get; }
    public ulong[] Keys { get; }
    public float[] Activations { get; }

    /// <summary>
    /// Per group, the slot <see cref="WorstSlot"/> would return, kept current by the managed collector so an offer
    /// costs one comparison (0 is right for an empty group). Not part of the state: merges and readers rebuild it.
    /// </summary>
    internal int[] CachedWorst { get; }

    public Reservoir(int groups, int capacity, int seqLen)
    {
        Groups = groups; Capacity = capacity; SeqLen = seqLen;
        Keys = new ulong[checked(groups * capacity)];
        Array.Fill(Keys, RecordKeys.Empty);
        CachedWorst = new int[groups];
        Activations = new float[checked((long)groups * capacity * seqLen) is var n && n <= Array.MaxLength ? (int)n
            : throw new ArgumentException($"records of {groups} groups × {capacity} windows × {seqLen} tokens do not fit in memory")];
    }

    /// <summary>The slot holding the largest key of group g (an empty slot if any): the one a better candidate replaces.</summary>
    public int WorstSlot(int group)
    {
        int start = group * Capacity, worst = 0;
        for (int s = 1; s < Capacity; s++)
            if (Keys[start + s] > Keys[start + worst]) worst = s;
        return worst;
    }

    /// <summary>The filled slots of group g in ascending key order (best first).</summary>
    public int[] Sorted(int group)
    {
        int start = group * Capacity;
        var slots = Enumerable.Range(0, Capacity).Where(s => Keys[start + s] != RecordKeys.Empty).ToArray();
        Array.Sort(slots, (a, b) => Keys[start + a].CompareTo(Keys[start + b]));
        return slots;
    }

    public ReadOnlySpan<float> SlotActivations(int group, int slot) =>
        Activations.AsSpan(((group * Capacity) + slot) * SeqLen, SeqLen);

    /// <summary>
    /// this ← the Capacity smallest keys of this ∪ other, per group, stored sorted. Exact: a key identifies its window,
    /// so the union of two disjoint shards' selections contains the selection of their union.
    /// </summary>
    public void MergeFrom(Reservoir other)
    {
        if (other.Groups != Groups || other.Capacity != Capacity || other.SeqLen != SeqLen)
            throw new InvalidDataException($"cannot merge records of different shapes ({Groups}×{Capacity}×{SeqLen} vs {other.Groups}×{other.Capacity}×{other.SeqLen})");
        var keys = new ulong[Capacity];
        var acts = new float[Capacity * SeqLen];
        for (int g = 0; g < Groups; g++)
        {
            var candidates = Sorted(g).Select(s => (Key: Keys[g * Capacity + s], From: this, Slot: s))
                .Concat(other.Sorted(g).Select(s => (Key: other.Keys[g * Capacity + s], From: other, Slot: s)))
                .OrderBy(c => c.Key).Take(Capacity).ToArray();
            Array.Fill(keys, RecordKeys.Empty);
            for (int i = 0; i < candidates.Length; i++)
            {
                var c = candidates[i];
                if (i > 0 && c.Key == candidates[i - 1].Key)
                    throw new InvalidDataException($"window {RecordKeys.Window(c.Key)} appears in two inputs: the shards overlap");
                keys[i] = c.Key;
                c.From.SlotActivations(g, c.Slot).CopyTo(acts.AsSpan(i * SeqLen, SeqLen));
            }
            keys.CopyTo(Keys.AsSpan(g * Capacity, Capacity));
            acts.CopyTo(Activations.AsSpan(g * Capacity * SeqLen, Capacity * SeqLen));
            CachedWorst[g] = WorstSlot(g);
        }
    }
}

/// <summary>
/// Everything collected for one layer: the three reservoirs, the moments and the quantile boundaries that assign
/// windows to bands. The same arrays are filled by the CPU collector, downloaded from the device collector, written
/// to and read from the packed format, and merged.
/// </summary>
public sealed class LayerRecordState
{
    public int Layer { get; }
    public RecordShape Shape { get; }
    public Reservoir Top { get; }
    public Reservoir Random { get; }
    /// <summary>Group n·Bands + b: neuron n's band b.</summary>
    public Reservoir Quantile { get; }
    /// <summary>[neuron, Moments.Stride].</summary>
    public double[] Moments { get; }
    /// <summary>[neuron, Boundaries]: a window with maximum m is in band #{i : boundaries[i] ≤ m}.</summary>
    public float[] Boundaries { get; }

    public LayerRecordState(int layer, RecordShape shape, float[]? boundaries = null)
    {
        Layer = layer; Shape = shape;
        Top = new Reservoir(shape.Neurons, shape.TopK, shape.SeqLen);
        Random = new Reservoir(shape.Neurons, shape.RandomCount, shape.SeqLen);
        Quantile = new Reservoir(shape.Neurons * RecordShape.Bands, shape.PerBand, shape.SeqLen);
        Moments = new double[shape.Neurons * Records.Moments.Stride];
        Boundaries = boundaries ?? new float[shape.Neurons * RecordShape.Boundaries];
        if (Boundaries.Length != shape.Neurons * RecordShape.Boundaries)
            throw new ArgumentException($"expected {shape.Neurons * RecordShape.Boundaries} quantile boundaries, got {Boundaries.Length}");
    }

    public static int BandOf(ReadOnlySpan<float> boundaries, float windowMax)
    {
        int band = 0;
        foreach (float b in boundaries) if (b <= windowMax) band++;
        return band;
    }

    /// <summary>this ← this ∪ other (another shard of the same run).</summary>
    public void MergeFrom(LayerRecordState other)
    {
        if (other.Layer != Layer || other.Shape != Shape)
            throw new InvalidDataException($"cannot merge layer {other.Layer} records ({other.Shape}) into layer {Layer} ({Shape})");
        if (!other.Boundaries.AsSpan().SequenceEqual(Boundaries))
            throw new InvalidDataException($"layer {Layer}: the inputs have different quantile boundaries (different corpus, model, seed or device)");
        Top.MergeFrom(other.Top);
        Random.MergeFrom(other.Random);
        Quantile.MergeFrom(other.Quantile);
        for (int n = 0; n < Shape.Neurons; n++)
            Records.Moments.Merge(Moments.AsSpan(n * Records.Moments.Stride, Records.Moments.Stride),
                other.Moments.AsSpan(n * Records.Moments.Stride, Records.Moments.Stride));
    }
}
