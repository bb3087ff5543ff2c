using System.Text.Json.Serialization;

namespace NeuronEngine.Records;

/// <summary>
/// What is kept per neuron: <see cref="TopK"/> top windows, <see cref="RandomCount"/> random windows,
/// <see cref="PerBand"/> windows in each of the <see cref="Bands"/> quantile bands, each with its
/// <see cref="SeqLen"/> activations, plus the moments. OpenAI's bands of the window-max distribution are
/// [0,.5], [.5,.9], [.9,.99], [.99,.999], [.999,1] (docs/design.md §4), i.e. the interior boundaries
/// <see cref="BandQuantiles"/>.
/// </summary>
public sealed record RecordShape(
    [property: JsonPropertyName("neurons")] int Neurons,
    [property: JsonPropertyName("seq_len")] int SeqLen,
    [property: JsonPropertyName("top_k")] int TopK,
    [property: JsonPropertyName("random")] int RandomCount,
    [property: JsonPropertyName("quantile_samples")] int PerBand,
    [property: JsonPropertyName("seed")] ulong Seed)
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
