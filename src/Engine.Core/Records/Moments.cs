using NeuronEngine.Numerics;

namespace NeuronEngine.Records;

/// <summary>
/// A neuron's activation moments as the records store them: 5 doubles [count, mean, M2, M3, M4] per neuron, updated and
/// merged by the one Pébay update and merge (<see cref="MomentSums"/>, shared with the record kernels). Partial results
/// from corpus shards combine into the one-pass result up to double rounding (tested to 1e-9).
/// Statistics as scipy.stats computes them by default (biased, population): variance = M2/n,
/// skewness = √n·M3 / M2^1.5, kurtosis = n·M4 / M2² − 3 (Fisher's excess kurtosis); NaN where undefined.
/// </summary>
public static class Moments
{
    public const int Count = 0, Mean = 1, M2 = 2, M3 = 3, M4 = 4, Stride = 5;

    internal static MomentSums Load(ReadOnlySpan<double> m) => new() { Count = m[Count], Mean = m[Mean], M2 = m[M2], M3 = m[M3], M4 = m[M4] };

    internal static void Store(MomentSums s, Span<double> m)
    {
        m[Count] = s.Count; m[Mean] = s.Mean; m[M2] = s.M2; m[M3] = s.M3; m[M4] = s.M4;
    }

    /// <summary>Adds one value (<see cref="MomentSums.Add"/>).</summary>
    public static void Add(Span<double> m, double x) => Store(MomentSums.Add(Load(m), x), m);

    /// <summary>a ← a ∪ b (<see cref="MomentSums.Merge"/>; either side may be empty).</summary>
    public static void Merge(Span<double> a, ReadOnlySpan<double> b) => Store(MomentSums.Merge(Load(a), Load(b)), a);

    public static (double Mean, double Variance, double Skewness, double Kurtosis) Statistics(ReadOnlySpan<double> m)
    {
        double n = m[Count];
        if (n == 0) return (double.NaN, double.NaN, double.NaN, double.NaN);
        double variance = m[M2] / n;
        if (m[M2] == 0) return (m[Mean], variance, double.NaN, double.NaN);
        return (m[Mean], variance, Math.Sqrt(n) * m[M3] / Math.Pow(m[M2], 1.5), n * m[M4] / (m[M2] * m[M2]) - 3);
    }
}
