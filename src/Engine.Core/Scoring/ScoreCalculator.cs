namespace NeuronEngine.Scoring;

/// <summary>
/// Reference (per-neuron, double precision) implementation of OpenAI's three scores.
/// Every score is taken over all given tokens at once (the sequences concatenated), as OpenAI's
/// aggregate_scored_sequence_simulations does, never as a mean of per-sequence scores.
/// Sums are two-pass (means first, then centred sums) so that large offsets do not cancel.
/// This is the yardstick the batched scorers are tested against; it favours clarity over speed.
/// </summary>
public static class ScoreCalculator
{
    /// <summary>
    /// Pearson correlation of true and expected activations (OpenAI's ev_correlation_score).
    /// Null when there are no tokens or either side is constant (zero variance): numpy gives NaN there.
    /// </summary>
    public static double? Correlation(ReadOnlySpan<double> trueActs, ReadOnlySpan<double> expected)
    {
        RequireSameLength(trueActs, expected);
        int n = trueActs.Length;
        if (n == 0 || IsConstant(trueActs) || IsConstant(expected)) return null;
        double meanT = Sum(trueActs) / n, meanP = Sum(expected) / n;
        double varT = 0, varP = 0, cov = 0;
        for (int i = 0; i < n; i++)
        {
            double dt = trueActs[i] - meanT, dp = expected[i] - meanP;
            varT += dt * dt;
            varP += dp * dp;
            cov += dt * dp;
        }
        if (!(varT > 0) || !(varP > 0)) return null; // differences too small to square (underflow)
        // Clamped like numpy's corrcoef: rounding may carry |r| a hair past 1.
        return Finite(Math.Clamp(cov / Math.Sqrt(varT * varP), -1.0, 1.0));
    }

    /// <summary>1 − mean((t−p)²)/mean(t²). Null when there are no tokens or every true activation is 0.</summary>
    public static double? RSquared(ReadOnlySpan<double> trueActs, ReadOnlySpan<double> expected)
    {
        RequireSameLength(trueActs, expected);
        double err = 0, norm = 0;
        for (int i = 0; i < trueActs.Length; i++)
        {
            double d = trueActs[i] - expected[i];
            err += d * d;
            norm += trueActs[i] * trueActs[i];
        }
        return norm == 0 ? null : Finite(1 - err / norm); // the 1/n of both means cancels
    }

    /// <summary>1 − mean|t−p|/mean|t|. Null when there are no tokens or every true activation is 0.</summary>
    public static double? AbsoluteDevExplained(ReadOnlySpan<double> trueActs, ReadOnlySpan<double> expected)
    {
        RequireSameLength(trueActs, expected);
        double err = 0, norm = 0;
        for (int i = 0; i < trueActs.Length; i++)
        {
            err += Math.Abs(trueActs[i] - expected[i]);
            norm += Math.Abs(trueActs[i]);
        }
        return norm == 0 ? null : Finite(1 - err / norm);
    }

    /// <summary>All three scores over the given tokens.</summary>
    public static ScoreTriple Score(ReadOnlySpan<double> trueActs, ReadOnlySpan<double> expected) =>
        new(Correlation(trueActs, expected), RSquared(trueActs, expected), AbsoluteDevExplained(trueActs, expected));

    /// <summary>All three scores over the sequences concatenated.</summary>
    public static ScoreTriple Score(IEnumerable<SequenceActivations> sequences)
    {
        var (t, p) = SequenceActivations.Concatenate(sequences);
        return Score(t, p);
    }

    /// <summary>
    /// The three variants for one neuron whose first <paramref name="topSequenceCount"/> sequences are
    /// top-activating records and the rest random ones.
    /// </summary>
    public static NeuronScoreVariants ScoreVariants(IReadOnlyList<SequenceActivations> sequences, int topSequenceCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(topSequenceCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(topSequenceCount, sequences.Count);
        return new NeuronScoreVariants(
            Score(sequences),
            Score(sequences.Take(topSequenceCount)),
            Score(sequences.Skip(topSequenceCount)));
    }

    /// <summary>
    /// OpenAI's "calibrated simulator" with linear calibration: fit p' = a·p + b on the calibration
    /// sequences, apply it to the scored ones, then score. See <see cref="LinearCalibration.Fit"/> for
    /// the degenerate cases; with nothing to fit every score is null. Correlation is unchanged by a
    /// positive slope and flips sign with a negative one.
    /// </summary>
    public static ScoreTriple ScoreCalibrated(
        IEnumerable<SequenceActivations> calibration, IEnumerable<SequenceActivations> scored)
    {
        var (calT, calP) = SequenceActivations.Concatenate(calibration);
        if (LinearCalibration.Fit(calT, calP) is not { } fit) return ScoreTriple.Undefined;
        var (t, p) = SequenceActivations.Concatenate(scored);
        fit.ApplyInPlace(p);
        return Score(t, p);
    }

    internal static double? Finite(double x) => double.IsFinite(x) ? x : null;

    internal static bool IsConstant(ReadOnlySpan<double> xs)
    {
        foreach (double x in xs)
            if (x != xs[0]) return false;
        return true;
    }

    private static double Sum(ReadOnlySpan<double> xs)
    {
        double s = 0;
        foreach (double x in xs) s += x;
        return s;
    }

    private static void RequireSameLength(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"{a.Length} true activations but {b.Length} expected activations.");
    }
}
