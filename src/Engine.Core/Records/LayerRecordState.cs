namespace NeuronEngine.Records;

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
