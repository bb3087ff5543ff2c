using System.Numerics;

namespace NeuronEngine.Scoring;

/// <summary>
/// Sufficient statistics of one token range for the three scores, in double precision: means and
/// centred second moments from a two-pass sweep, plus the plain sums the ratio scores need.
/// Two ranges combine exactly-in-exact-arithmetic and stably in floating point with Chan et al.'s
/// pairwise update, so "top and random" is the merge of "top" and "random" without a third sweep.
/// Min/max per side make the constant test exact (a rounded mean can leave a few ulps of variance).
/// NaN inputs may slip past min/max, but they make every sum NaN, and NaN scores are reported as null.
/// Plain struct of doubles: a device kernel can hold the same state per thread (the ILGPU scorer rebuilds it
/// from its kernel's sums, so both scorers share the merge and the null rules).
/// </summary>
public struct TokenRangeStatistics
{
    public long Count;
    public double MeanTrue, MeanExpected;
    public double CentredSquaresTrue, CentredSquaresExpected, CentredCrossProducts;
    public double SquaredErrors, SquaresTrue, AbsoluteErrors, AbsolutesTrue;
    public double MinTrue, MaxTrue, MinExpected, MaxExpected;

    /// <summary>
    /// Two sweeps over the range, SIMD-wide: floats are widened to doubles lane by lane and summed in
    /// per-lane double accumulators (the lane split is a pairwise-style summation, no less accurate than
    /// one running sum), then the lanes are reduced and the tail is added in scalar code.
    /// </summary>
    public static TokenRangeStatistics Compute(ReadOnlySpan<float> trueActs, ReadOnlySpan<float> expected)
    {
        int n = trueActs.Length;
        var s = new TokenRangeStatistics { Count = n };
        if (n == 0) return s;
        expected = expected[..n];
        int width = Vector<float>.Count, vectorEnd = n - n % width;

        // Pass 1: sums for the means, and min/max for the exact constant test.
        var sumT = Vector<double>.Zero;
        var sumP = Vector<double>.Zero;
        var minT = new Vector<float>(trueActs[0]);
        var maxT = minT;
        var minP = new Vector<float>(expected[0]);
        var maxP = minP;
        for (int i = 0; i < vectorEnd; i += width)
        {
            var t = new Vector<float>(trueActs[i..]);
            var p = new Vector<float>(expected[i..]);
            minT = Vector.Min(minT, t);
            maxT = Vector.Max(maxT, t);
            minP = Vector.Min(minP, p);
            maxP = Vector.Max(maxP, p);
            Vector.Widen(t, out var tLow, out var tHigh);
            Vector.Widen(p, out var pLow, out var pHigh);
            sumT += tLow + tHigh;
            sumP += pLow + pHigh;
        }
        double totalT = Vector.Sum(sumT), totalP = Vector.Sum(sumP);
        s.MinTrue = s.MaxTrue = trueActs[0];
        s.MinExpected = s.MaxExpected = expected[0];
        ReduceLanes(ref s, minT, maxT, minP, maxP);
        for (int i = vectorEnd; i < n; i++) AddToSumsAndRange(ref s, ref totalT, ref totalP, trueActs[i], expected[i]);
        s.MeanTrue = totalT / n;
        s.MeanExpected = totalP / n;

        // Pass 2: centred moments and the plain sums of the ratio scores.
        var meanT = new Vector<double>(s.MeanTrue);
        var meanP = new Vector<double>(s.MeanExpected);
        Vector<double> squaresT = default, squaresP = default, cross = default;
        Vector<double> squaredErrors = default, rawSquaresT = default, absErrors = default, absT = default;
        for (int i = 0; i < vectorEnd; i += width)
        {
            Vector.Widen(new Vector<float>(trueActs[i..]), out var tLow, out var tHigh);
            Vector.Widen(new Vector<float>(expected[i..]), out var pLow, out var pHigh);
            // Written out rather than in a helper: accumulators captured by a local function stay in memory.
            Vector<double> dtLow = tLow - meanT, dpLow = pLow - meanP, errLow = tLow - pLow;
            Vector<double> dtHigh = tHigh - meanT, dpHigh = pHigh - meanP, errHigh = tHigh - pHigh;
            squaresT += dtLow * dtLow + dtHigh * dtHigh;
            squaresP += dpLow * dpLow + dpHigh * dpHigh;
            cross += dtLow * dpLow + dtHigh * dpHigh;
            squaredErrors += errLow * errLow + errHigh * errHigh;
            rawSquaresT += tLow * tLow + tHigh * tHigh;
            absErrors += Vector.Abs(errLow) + Vector.Abs(errHigh);
            absT += Vector.Abs(tLow) + Vector.Abs(tHigh);
        }
        s.CentredSquaresTrue = Vector.Sum(squaresT);
        s.CentredSquaresExpected = Vector.Sum(squaresP);
        s.CentredCrossProducts = Vector.Sum(cross);
        s.SquaredErrors = Vector.Sum(squaredErrors);
        s.SquaresTrue = Vector.Sum(rawSquaresT);
        s.AbsoluteErrors = Vector.Sum(absErrors);
        s.AbsolutesTrue = Vector.Sum(absT);
        for (int i = vectorEnd; i < n; i++) AddToMoments(ref s, trueActs[i], expected[i]);
        return s;
    }

    /// <summary>
    /// The same two sweeps over values as read (double), for the host scorer: nothing is rounded to float
    /// before it is summed. SIMD lanes of doubles, then the tail in scalar code.
    /// </summary>
    public static TokenRangeStatistics Compute(ReadOnlySpan<double> trueActs, ReadOnlySpan<double> expected)
    {
        int n = trueActs.Length;
        var s = new TokenRangeStatistics { Count = n };
        if (n == 0) return s;
        expected = expected[..n];
        int width = Vector<double>.Count, vectorEnd = n - n % width;

        var sumT = Vector<double>.Zero;
        var sumP = Vector<double>.Zero;
        var minT = new Vector<double>(trueActs[0]);
        var maxT = minT;
        var minP = new Vector<double>(expected[0]);
        var maxP = minP;
        for (int i = 0; i < vectorEnd; i += width)
        {
            var t = new Vector<double>(trueActs[i..]);
            var p = new Vector<double>(expected[i..]);
            minT = Vector.Min(minT, t);
            maxT = Vector.Max(maxT, t);
            minP = Vector.Min(minP, p);
            maxP = Vector.Max(maxP, p);
            sumT += t;
            sumP += p;
        }
        double totalT = Vector.Sum(sumT), totalP = Vector.Sum(sumP);
        s.MinTrue = s.MaxTrue = trueActs[0];
        s.MinExpected = s.MaxExpected = expected[0];
        ReduceLanes(ref s, minT, maxT, minP, maxP);
        for (int i = vectorEnd; i < n; i++) AddToSumsAndRange(ref s, ref totalT, ref totalP, trueActs[i], expected[i]);
        s.MeanTrue = totalT / n;
        s.MeanExpected = totalP / n;

        var meanT = new Vector<double>(s.MeanTrue);
        var meanP = new Vector<double>(s.MeanExpected);
        Vector<double> squaresT = default, squaresP = default, cross = default;
        Vector<double> squaredErrors = default, rawSquaresT = default, absErrors = default, absT = default;
        for (int i = 0; i < vectorEnd; i += width)
        {
            var t = new Vector<double>(trueActs[i..]);
            var p = new Vector<double>(expected[i..]);
            Vector<double> dt = t - meanT, dp = p - meanP, err = t - p;
            squaresT += dt * dt;
            squaresP += dp * dp;
            cross += dt * dp;
            squaredErrors += err * err;
            rawSquaresT += t * t;
            absErrors += Vector.Abs(err);
            absT += Vector.Abs(t);
        }
        s.CentredSquaresTrue = Vector.Sum(squaresT);
        s.CentredSquaresExpected = Vector.Sum(squaresP);
        s.CentredCrossProducts = Vector.Sum(cross);
        s.SquaredErrors = Vector.Sum(squaredErrors);
        s.SquaresTrue = Vector.Sum(rawSquaresT);
        s.AbsoluteErrors = Vector.Sum(absErrors);
        s.AbsolutesTrue = Vector.Sum(absT);
        for (int i = vectorEnd; i < n; i++) AddToMoments(ref s, trueActs[i], expected[i]);
        return s;
    }

    // The scalar steps both overloads share (the SIMD loops stay written out in each: accumulators captured by a
    // helper would live in memory). Values arrive as double; a float widens exactly, so either overload adds the
    // same numbers as when each had its own copy of these lines.

    /// <summary>Folds the SIMD lanes' minima and maxima into the range's.</summary>
    private static void ReduceLanes<T>(ref TokenRangeStatistics s, Vector<T> minT, Vector<T> maxT, Vector<T> minP, Vector<T> maxP)
        where T : struct, INumberBase<T>
    {
        for (int lane = 0; lane < Vector<T>.Count; lane++)
        {
            s.MinTrue = Math.Min(s.MinTrue, double.CreateChecked(minT[lane]));
            s.MaxTrue = Math.Max(s.MaxTrue, double.CreateChecked(maxT[lane]));
            s.MinExpected = Math.Min(s.MinExpected, double.CreateChecked(minP[lane]));
            s.MaxExpected = Math.Max(s.MaxExpected, double.CreateChecked(maxP[lane]));
        }
    }

    /// <summary>Pass 1 for one tail value: the sums for the means, and min/max.</summary>
    private static void AddToSumsAndRange(ref TokenRangeStatistics s, ref double totalT, ref double totalP, double t, double p)
    {
        totalT += t;
        totalP += p;
        s.MinTrue = Math.Min(s.MinTrue, t);
        s.MaxTrue = Math.Max(s.MaxTrue, t);
        s.MinExpected = Math.Min(s.MinExpected, p);
        s.MaxExpected = Math.Max(s.MaxExpected, p);
    }

    /// <summary>Pass 2 for one tail value: centred moments and the plain sums of the ratio scores.</summary>
    private static void AddToMoments(ref TokenRangeStatistics s, double t, double p)
    {
        double dt = t - s.MeanTrue, dp = p - s.MeanExpected, err = t - p;
        s.CentredSquaresTrue += dt * dt;
        s.CentredSquaresExpected += dp * dp;
        s.CentredCrossProducts += dt * dp;
        s.SquaredErrors += err * err;
        s.SquaresTrue += t * t;
        s.AbsoluteErrors += Math.Abs(err);
        s.AbsolutesTrue += Math.Abs(t);
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
            MinTrue = Math.Min(a.MinTrue, b.MinTrue),
            MaxTrue = Math.Max(a.MaxTrue, b.MaxTrue),
            MinExpected = Math.Min(a.MinExpected, b.MinExpected),
            MaxExpected = Math.Max(a.MaxExpected, b.MaxExpected),
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
