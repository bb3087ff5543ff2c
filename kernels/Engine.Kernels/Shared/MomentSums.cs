using System.Runtime.CompilerServices;

namespace NeuronEngine.Numerics;

/// <summary>
/// Count, mean and central moment sums M2 = Σ(x−x̄)², M3 = Σ(x−x̄)³, M4 = Σ(x−x̄)⁴ of a neuron's activations, in double:
/// the one Pébay update and the one pairwise merge, used by the managed record collector (value by value), the record
/// kernels (per window, then merged in window order), checkpoints and `engine merge`. A value type returned by value,
/// so ILGPU keeps it in registers.
/// </summary>
struct MomentSums
{
    public double Count, Mean, M2, M3, M4;

    /// <summary>
    /// Adds one value (Welford/Pébay 2008, eq. 1.4 with n_b = 1): n' = n + 1, δ = x − mean, δn = δ/n',
    /// term = δ·δn·n; mean += δn; M4 += term·δn²·(n'² − 3n' + 3) + 6δn²·M2 − 4δn·M3; M3 += term·δn·(n' − 2) − 3δn·M2;
    /// M2 += term (M4 and M3 first: they read the old M2 and M3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MomentSums Add(MomentSums m, double x)
    {
        double n1 = m.Count, nn = n1 + 1;
        double delta = x - m.Mean, dn = delta / nn, dn2 = dn * dn, term1 = delta * dn * n1;
        m.Mean += dn;
        m.M4 += term1 * dn2 * (nn * nn - 3 * nn + 3) + 6 * dn2 * m.M2 - 4 * dn * m.M3;
        m.M3 += term1 * dn * (nn - 2) - 3 * dn * m.M2;
        m.M2 += term1;
        m.Count = nn;
        return m;
    }

    /// <summary>
    /// a ∪ b (Chan et al. 1979, Pébay 2008; either side may be empty): with δ = mean_b − mean_a, n = n_a + n_b,
    /// mean = mean_a + δ·n_b/n, M2 = M2a + M2b + δ²·n_a·n_b/n,
    /// M3 = M3a + M3b + δ³·n_a·n_b·(n_a − n_b)/n² + 3δ·(n_a·M2b − n_b·M2a)/n,
    /// M4 = M4a + M4b + δ⁴·n_a·n_b·(n_a² − n_a·n_b + n_b²)/n³ + 6δ²·(n_a²·M2b + n_b²·M2a)/n² + 4δ·(n_a·M3b − n_b·M3a)/n.
    /// Equals the one-pass result up to double rounding (≈1e-15 relative per merge).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MomentSums Merge(MomentSums a, MomentSums b)
    {
        double na = a.Count, nb = b.Count;
        if (nb == 0) return a;
        if (na == 0) return b;
        double n = na + nb, delta = b.Mean - a.Mean, d2 = delta * delta;
        double m2a = a.M2, m3a = a.M3;
        a.M4 = a.M4 + b.M4 + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n)
            + 6 * d2 * (na * na * b.M2 + nb * nb * m2a) / (n * n) + 4 * delta * (na * b.M3 - nb * m3a) / n;
        a.M3 = m3a + b.M3 + d2 * delta * na * nb * (na - nb) / (n * n) + 3 * delta * (na * b.M2 - nb * m2a) / n;
        a.M2 = m2a + b.M2 + d2 * na * nb / n;
        a.Mean += delta * nb / n;
        a.Count = n;
        return a;
    }
}
