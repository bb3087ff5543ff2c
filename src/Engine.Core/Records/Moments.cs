namespace NeuronEngine.Records;

/// <summary>
/// Count, mean and central moment sums M2 = Σ(x−x̄)², M3 = Σ(x−x̄)³, M4 = Σ(x−x̄)⁴ of a neuron's activations, in
/// double. Updated one value at a time (Welford/Pébay) and merged pairwise (Chan et al. 1979, Pébay 2008), so
/// partial results from corpus shards combine into the one-pass result up to double rounding (≈1e-15 relative
/// per merge; tested to 1e-9). Stored as 5 doubles per neuron: [count, mean, M2, M3, M4].
/// Statistics as scipy.stats computes them by default (biased, population): variance = M2/n,
/// skewness = √n·M3 / M2^1.5, kurtosis = n·M4 / M2² − 3 (Fisher's excess kurtosis); NaN where undefined.
/// </summary>
public static class Moments
{
    public const int Count = 0, Mean = 1, M2 = 2, M3 = 3, M4 = 4, Stride = 5;

    /// <summary>Adds one value (Pébay 2008, eq. 1.4 with n_b = 1). The device kernel uses the same steps in the same order.</summary>
    public static void Add(Span<double> m, double x)
    {
        double n1 = m[Count], n = n1 + 1;
        double delta = x - m[Mean], dn = delta / n, dn2 = dn * dn, term1 = delta * dn * n1;
        m[Mean] += dn;
        m[M4] += term1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * m[M2] - 4 * dn * m[M3];
        m[M3] += term1 * dn * (n - 2) - 3 * dn * m[M2];
        m[M2] += term1;
        m[Count] = n;
    }

    /// <summary>a ← a ∪ b (pairwise formulas; either side may be empty).</summary>
    public static void Merge(Span<double> a, ReadOnlySpan<double> b)
    {
        double na = a[Count], nb = b[Count];
        if (nb == 0) return;
        if (na == 0) { b[..Stride].CopyTo(a); return; }
        double n = na + nb, delta = b[Mean] - a[Mean], d2 = delta * delta;
        double m2a = a[M2], m3a = a[M3];
        a[M4] = a[M4] + b[M4] + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n)
            + 6 * d2 * (na * na * b[M2] + nb * nb * m2a) / (n * n) + 4 * delta * (na * b[M3] - nb * m3a) / n;
        a[M3] = m3a + b[M3] + d2 * delta * na * nb * (na - nb) / (n * n) + 3 * delta * (na * b[M2] - nb * m2a) / n;
        a[M2] = m2a + b[M2] + d2 * na * nb / n;
        a[Mean] += delta * nb / n;
        a[Count] = n;
    }

    public static (double Mean, double Variance, double Skewness, double Kurtosis) Statistics(ReadOnlySpan<double> m)
    {
        double n = m[Count];
        if (n == 0) return (double.NaN, double.NaN, double.NaN, double.NaN);
        double variance = m[M2] / n;
        if (m[M2] == 0) return (m[Mean], variance, double.NaN, double.NaN);
        return (m[Mean], variance, Math.Sqrt(n) * m[M3] / Math.Pow(m[M2], 1.5), n * m[M4] / (m[M2] * m[M2]) - 3);
    }
}
