using NeuronEngine.Records;
using NeuronEngine.Numerics;

namespace NeuronEngine.Tests.Records;

/// <summary>The keys' orders and the mergeable moments, on their own.</summary>
public class RecordMathTests
{
    [Fact]
    public void OrderedBitsFollowTheFloatOrderIncludingNegatives()
    {
        float[] values = [float.NegativeInfinity, -3.4e38f, -2f, -1e-30f, -0f, 0f, 1e-45f, 0.5f, 7f, float.PositiveInfinity];
        for (int i = 1; i < values.Length; i++)
            Assert.True(RecordKeys.OrderedBits(values[i - 1]) < RecordKeys.OrderedBits(values[i]), $"{values[i - 1]} vs {values[i]}");
        foreach (var v in values) Assert.Equal(v == 0 ? 0u : BitConverter.SingleToUInt32Bits(v), BitConverter.SingleToUInt32Bits(RecordKeys.TopMax(RecordKeys.TopKey(v, 9))));
    }

    [Fact]
    public void TopKeysRankLargerMaximaFirstAndTiesByLowerWindow()
    {
        Assert.True(RecordKeys.TopKey(2f, 100) < RecordKeys.TopKey(1f, 0));
        Assert.True(RecordKeys.TopKey(-1f, 100) < RecordKeys.TopKey(-2f, 0));
        Assert.True(RecordKeys.TopKey(1f, 3) < RecordKeys.TopKey(1f, 4));
        Assert.True(RecordKeys.TopKey(-0f, 3) < RecordKeys.TopKey(0f, 4)); // −0 and +0 tie: the lower window wins
        Assert.True(RecordKeys.TopKey(0f, 3) < RecordKeys.TopKey(-0f, 4));
        Assert.True(RecordKeys.TopKey(float.NegativeInfinity, (uint)RecordKeys.MaxWindows) < RecordKeys.Empty);
    }

    [Fact]
    public void HashIsUniformEnoughForSampling()
    {
        // 64 buckets of 64,000 hashes: chi-square with 63 degrees of freedom stays far below 150 for a uniform hash.
        var counts = new int[64];
        for (uint w = 0; w < 64_000; w++) counts[RecordKeys.Hash(7, 3, 11, w, RecordKeys.RandomSalt) >> 26]++;
        double chi2 = counts.Sum(c => (c - 1000.0) * (c - 1000.0) / 1000.0);
        Assert.True(chi2 < 150, $"chi-square {chi2}");
        Assert.NotEqual(RecordKeys.Hash(7, 3, 11, 5, RecordKeys.RandomSalt), RecordKeys.Hash(7, 3, 12, 5, RecordKeys.RandomSalt));
        Assert.NotEqual(RecordKeys.Hash(7, 3, 11, 5, RecordKeys.RandomSalt), RecordKeys.Hash(7, 3, 11, 5, RecordKeys.QuantileSalt));
    }

    [Fact]
    public void MomentsAddAndMergeAgreeWithTwoPassOnOffsetData()
    {
        // A large offset (1e4) with small spread is where naive Σx², Σx³ formulas lose every digit.
        var rng = new Random(3);
        var xs = Enumerable.Range(0, 3000).Select(_ => 1e4 + Math.Pow(rng.NextDouble(), 3)).ToArray();
        double n = xs.Length, mean = xs.Average();
        double m2 = xs.Sum(x => (x - mean) * (x - mean)), m3 = xs.Sum(x => Math.Pow(x - mean, 3)), m4 = xs.Sum(x => Math.Pow(x - mean, 4));
        var expected = (mean, m2 / n, Math.Sqrt(n) * m3 / Math.Pow(m2, 1.5), n * m4 / (m2 * m2) - 3);

        var one = new double[Moments.Stride];
        foreach (var x in xs) Moments.Add(one, x);
        var parts = new[] { xs[..1000], xs[1000..1001], xs[1001..] }.Select(part =>
        {
            var m = new double[Moments.Stride];
            foreach (var x in part) Moments.Add(m, x);
            return m;
        }).ToArray();
        var merged = new double[Moments.Stride];
        foreach (var p in parts.Reverse()) Moments.Merge(merged, p);

        foreach (var m in new[] { one, merged })
        {
            var s = Moments.Statistics(m);
            RecordsFixture.AssertClose(expected.Item1, s.Mean, 1e-12, "mean");
            RecordsFixture.AssertClose(expected.Item2, s.Variance, 1e-9, "variance");
            RecordsFixture.AssertClose(expected.Item3, s.Skewness, 1e-7, "skewness");
            RecordsFixture.AssertClose(expected.Item4, s.Kurtosis, 1e-7, "kurtosis");
        }
    }

    /// <summary>
    /// The Pébay update and merge were written three times (Moments, CpuRecordCollector, RecordKernels) and are now one
    /// (MomentSums, shared with the kernels). Their bits must not have moved, or resumed runs would no longer equal
    /// earlier ones: the previous Moments.Add/Merge, kept here verbatim, against the shared code on random data.
    /// </summary>
    [Fact]
    public void SharedMomentArithmeticIsBitIdenticalToThePreviousCode()
    {
        static void OldAdd(double[] m, double x)
        {
            double n1 = m[0], n = n1 + 1;
            double delta = x - m[1], dn = delta / n, dn2 = dn * dn, term1 = delta * dn * n1;
            m[1] += dn;
            m[4] += term1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * m[2] - 4 * dn * m[3];
            m[3] += term1 * dn * (n - 2) - 3 * dn * m[2];
            m[2] += term1;
            m[0] = n;
        }
        static void OldMerge(double[] a, double[] b)
        {
            double na = a[0], nb = b[0];
            if (nb == 0) return;
            if (na == 0) { b.CopyTo(a, 0); return; }
            double n = na + nb, delta = b[1] - a[1], d2 = delta * delta;
            double m2a = a[2], m3a = a[3];
            a[4] = a[4] + b[4] + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n)
                + 6 * d2 * (na * na * b[2] + nb * nb * m2a) / (n * n) + 4 * delta * (na * b[3] - nb * m3a) / n;
            a[3] = m3a + b[3] + d2 * delta * na * nb * (na - nb) / (n * n) + 3 * delta * (na * b[2] - nb * m2a) / n;
            a[2] = m2a + b[2] + d2 * na * nb / n;
            a[1] += delta * nb / n;
            a[0] = n;
        }
        var rng = new Random(17);
        var oldTotal = new double[Moments.Stride];
        var newTotal = new double[Moments.Stride];
        for (int part = 0; part < 50; part++)
        {
            var oldPart = new double[Moments.Stride];
            var newPart = new double[Moments.Stride];
            int count = part % 7 == 0 ? 0 : rng.Next(1, 200);
            for (int i = 0; i < count; i++)
            {
                double x = (float)(rng.NextDouble() * 8 - 2) * (part % 3 == 0 ? 1e3 : 1); // activations are floats
                OldAdd(oldPart, x);
                Moments.Add(newPart, x);
            }
            Assert.Equal(oldPart, newPart);
            OldMerge(oldTotal, oldPart);
            Moments.Merge(newTotal, newPart);
            Assert.Equal(oldTotal, newTotal);
        }
    }
}
