using NeuronEngine.Records;

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
}
