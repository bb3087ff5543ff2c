namespace NeuronEngine.Scoring;

/// <summary>
/// The generation score of an explanation (docs/revise.md): the explainer wrote texts that should make the neuron fire
/// and similar texts that should not; the subject model measured each text's largest activation. No simulator is
/// involved — a handful of generated tokens and one forward batch.
/// <list type="bullet">
/// <item><see cref="ShouldFireAbove"/>: the fraction of "should fire" texts whose max activation is above
/// <see cref="Threshold"/> (strictly); <see cref="ShouldNotFireAbove"/> the same for "should not" (lower is better).</item>
/// <item><see cref="Auroc"/>: the probability that a random "should fire" text's max beats a random "should not" text's,
/// ties counted as 1/2 (the Mann–Whitney U over the two sets, divided by their sizes' product).</item>
/// </list>
/// A fraction is null when its set is empty; the AUROC is null when either set is.
/// </summary>
public sealed record GenerationScore
{
    /// <summary>The default threshold: this share of the neuron's largest activation over its top records.</summary>
    public const double DefaultThresholdShare = 0.5;

    public required double Threshold { get; init; }
    public required int ShouldFireTexts { get; init; }
    public required int ShouldNotFireTexts { get; init; }
    public double? ShouldFireAbove { get; init; }
    public double? ShouldNotFireAbove { get; init; }
    public double? Auroc { get; init; }

    /// <summary>The score from each text's max activation; null when there are no texts at all.</summary>
    public static GenerationScore? Compute(IReadOnlyList<double> shouldFireMax, IReadOnlyList<double> shouldNotFireMax, double threshold)
    {
        if (shouldFireMax.Count == 0 && shouldNotFireMax.Count == 0) return null;
        double? Above(IReadOnlyList<double> maxima) => maxima.Count == 0 ? null : (double)maxima.Count(m => m > threshold) / maxima.Count;
        double? auroc = null;
        if (shouldFireMax.Count > 0 && shouldNotFireMax.Count > 0)
        {
            double wins = 0;
            foreach (double f in shouldFireMax)
                foreach (double n in shouldNotFireMax)
                    wins += f > n ? 1 : f == n ? 0.5 : 0;
            auroc = wins / ((double)shouldFireMax.Count * shouldNotFireMax.Count);
        }
        return new GenerationScore
        {
            Threshold = threshold,
            ShouldFireTexts = shouldFireMax.Count,
            ShouldNotFireTexts = shouldNotFireMax.Count,
            ShouldFireAbove = Above(shouldFireMax),
            ShouldNotFireAbove = Above(shouldNotFireMax),
            Auroc = auroc,
        };
    }
}
