namespace NeuronEngine.Scoring;

/// <summary>
/// The three scores of OpenAI's method for one set of (true, simulated) activations.
/// A score is null where it is undefined: no tokens, a constant side for the correlation,
/// an all-zero true side for the two ratio scores, or non-finite inputs.
/// </summary>
public readonly record struct ScoreTriple(double? EvCorrelation, double? RSquared, double? AbsoluteDevExplained)
{
    /// <summary>All three scores undefined (e.g. an empty set of tokens).</summary>
    public static ScoreTriple Undefined => default;
}

/// <summary>
/// Which of a neuron's scored sequences a score covers. In OpenAI's data the first half of a
/// neuron's scored sequences are top-activating records and the second half random ones.
/// The numeric values are the offsets inside a neuron's block of results from <see cref="IBatchScorer"/>.
/// </summary>
public enum ScoreVariant
{
    /// <summary>All scored sequences (top and random together): OpenAI's headline score.</summary>
    TopAndRandom = 0,
    /// <summary>Only the top-activating sequences.</summary>
    TopOnly = 1,
    /// <summary>Only the random sequences.</summary>
    RandomOnly = 2,
}

/// <summary>The three variants of one neuron's scores.</summary>
public readonly record struct NeuronScoreVariants(ScoreTriple TopAndRandom, ScoreTriple TopOnly, ScoreTriple RandomOnly)
{
    public ScoreTriple this[ScoreVariant variant] => variant switch
    {
        ScoreVariant.TopAndRandom => TopAndRandom,
        ScoreVariant.TopOnly => TopOnly,
        ScoreVariant.RandomOnly => RandomOnly,
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, null),
    };
}
