namespace NeuronEngine.Scoring;

/// <summary>
/// Sufficient statistics of one token range for the three scores, in double precision: means and
/// centred second moments from a two-pass sweep, plus the plain sums the ratio scores need.
/// Two ranges combine exactly-in-exact-arithmetic and stably in floating point with Chan et al.'s
/// pairwise update, so "top and random" is the merge of "top" and "random" without a third sweep.
/// Min/max per side make the constant test exact (a rounded mean can leave a few ulps of variance).
/// Plain struct of doubles: a device kernel can hold the same state per thread.
/// </summary>
internal struct TokenRangeStatistics
{
    public long Count;
    public double MeanTrue, MeanExpected;
    public double CentredSquaresTrue, CentredSquaresExpected, CentredCrossProducts;
    public double SquaredErrors, SquaresTrue, AbsoluteErrors, AbsolutesTrue;
    public float MinTrue, MaxTrue, MinExpected, MaxExpected;

    public static TokenRangeStatistics Compute(ReadOnlySpan<float> trueActs, ReadOnlySpan<float> expected)
    {
        var s = new TokenRangeStatistics { Count = trueActs.Length };
        if (trueActs.Length == 0) return s;
        s.MinTrue = s.MaxTrue = trueActs[0];
        s.MinExpected = s.MaxExpected = expected[0];
        double sumT = 0, sumP = 0;
        for (int i = 0; i < trueActs.Length; i++)
        {
            float t = trueActs[i], p = expected[i];
            sumT += t;
            sumP += p;
            if (t < s.MinTrue) s.MinTrue = t;
            if (t > s.MaxTrue) s.MaxTrue = t;
            if (p < s.MinExpected) s.MinExpected = p;
            if (p > s.MaxExpected) s.MaxExpected = p;
        }
        s.MeanTrue = sumT / trueActs.Length;
        s.MeanExpected = sumP / trueActs.Length;
        for (int i = 0; i < trueActs.Length; i++)
        {
            double t = trueActs[i], p = expected[i];
            double dt = t - s.MeanTrue, dp = p - s.MeanExpected, err = t - p;
            s.CentredSquaresTrue += dt * dt;
            s.CentredSquaresExpected += dp * dp;
            s.CentredCrossProducts += dt * dp;
            s.SquaredErrors += err * err;
            s.SquaresTrue += t * t;
            s.AbsoluteErrors += Math.Abs(err);
            s.AbsolutesTrue += Math.Abs(t);
        }
        return s;
    }

    public static TokenRangeStatistics Merge(in TokenRangeStatistics a, in TokenRangeStatistics b)
    {
        if (a.Count == 0) return b;
        if (b.Count == 0) return a;
        long n = a.Count + b.Count;
        double deltaT = b.MeanTrue - a.MeanTrue, deltaP = b.MeanExpected - a.MeanExpected;
        double weight = (double)a.Count * b.Count / n;
        return new TokenRangeStatistics
        {
            Count = n,
            MeanTrue = a.MeanTrue + deltaT * b.Count / n,
            MeanExpected = a.MeanExpected + deltaP * b.Count / n,
            CentredSquaresTrue = a.CentredSquaresTrue + b.CentredSquaresTrue + deltaT * deltaT * weight,
            CentredSquaresExpected = a.CentredSquaresExpected + b.CentredSquaresExpected + deltaP * deltaP * weight,
            CentredCrossProducts = a.CentredCrossProducts + b.CentredCrossProducts + deltaT * deltaP * weight,
            SquaredErrors = a.SquaredErrors + b.SquaredErrors,
            SquaresTrue = a.SquaresTrue + b.SquaresTrue,
            AbsoluteErrors = a.AbsoluteErrors + b.AbsoluteErrors,
            AbsolutesTrue = a.AbsolutesTrue + b.AbsolutesTrue,
            MinTrue = MathF.Min(a.MinTrue, b.MinTrue),
            MaxTrue = MathF.Max(a.MaxTrue, b.MaxTrue),
            MinExpected = MathF.Min(a.MinExpected, b.MinExpected),
            MaxExpected = MathF.Max(a.MaxExpected, b.MaxExpected),
        };
    }

    /// <summary>The scores, with the same null rules as <see cref="ScoreCalculator"/>.</summary>
    public readonly ScoreTriple ToScores()
    {
        if (Count == 0) return ScoreTriple.Undefined;
        double? correlation = null;
        bool constant = MinTrue == MaxTrue || MinExpected == MaxExpected;
        if (!constant && CentredSquaresTrue > 0 && CentredSquaresExpected > 0)
            correlation = ScoreCalculator.Finite(Math.Clamp(
                CentredCrossProducts / Math.Sqrt(CentredSquaresTrue * CentredSquaresExpected), -1.0, 1.0));
        double? rSquared = SquaresTrue == 0 ? null : ScoreCalculator.Finite(1 - SquaredErrors / SquaresTrue);
        double? absDev = AbsolutesTrue == 0 ? null : ScoreCalculator.Finite(1 - AbsoluteErrors / AbsolutesTrue);
        return new ScoreTriple(correlation, rSquared, absDev);
    }
}
