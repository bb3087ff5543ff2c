using NeuronEngine.Precision;

namespace NeuronEngine.Tests.Precision;

/// <summary>
/// The |x| histogram behind `engine precision-effect`'s quantiles, fed in parallel chunks (AddAll, AddDifferences):
/// counts, maximum and quantiles against the exact order statistics of the same values, computed here by sorting. The
/// documented bound: a quantile is its bin's upper edge, never below the exact value and at most 2^(1/64) (1.1%) above.
/// </summary>
public class LogHistogramTests
{
    private static readonly double[] Quantiles = [0.5, 0.9, 0.99, 0.999, 1.0];

    /// <summary>Seeded values over many octaves, both signs, with zeros and NaNs; more than one parallel chunk.</summary>
    private static float[] Values(int count, int seed)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            double magnitude = Math.Pow(2, rng.NextDouble() * 30 - 20);
            v[i] = i % 9973 == 0 ? float.NaN : i % 7919 == 0 ? 0f : (float)(rng.Next(2) == 0 ? magnitude : -magnitude);
        }
        return v;
    }

    private static void AssertMatchesExact(LogHistogram h, double[] magnitudes)
    {
        var exact = magnitudes.Where(x => !double.IsNaN(x)).Order().ToArray();
        Assert.Equal(exact.Length, h.Count);
        Assert.Equal(exact[^1], h.Max);
        foreach (double q in Quantiles)
        {
            double want = exact[(int)Math.Ceiling(q * exact.Length) - 1];
            double got = h.Quantile(q);
            Assert.True(got >= want && got <= want * Math.Pow(2, 1.0 / 64) * (1 + 1e-12),
                $"q {q}: {got} against the exact {want}");
        }
    }

    [Fact]
    public void AddAllInChunksMatchesTheExactQuantiles()
    {
        var values = Values(1_000_003, 1);
        var h = new LogHistogram();
        h.AddAll(values, values.Length);
        AssertMatchesExact(h, values.Select(x => Math.Abs((double)x)).ToArray());
    }

    [Fact]
    public void AddAllCountsOnlyTheFirstCountValues()
    {
        var values = Values(700_000, 2);
        var h = new LogHistogram();
        h.AddAll(values, 600_001);
        AssertMatchesExact(h, values.Take(600_001).Select(x => Math.Abs((double)x)).ToArray());
    }

    [Fact]
    public void AddDifferencesBinsTheDoubleDifferences()
    {
        var a = Values(800_000, 3);
        var b = Values(800_000, 4);
        var h = new LogHistogram();
        h.AddDifferences(a, b, a.Length);
        AssertMatchesExact(h, a.Zip(b, (x, y) => Math.Abs((double)x - y)).ToArray());
    }

    [Fact]
    public void ChunkedAndOneByOneGiveTheSameQuantiles()
    {
        var values = Values(900_000, 5);
        var chunked = new LogHistogram();
        chunked.AddAll(values, values.Length);
        var single = new LogHistogram();
        foreach (float v in values) single.Add(v);
        Assert.Equal(single.Count, chunked.Count);
        Assert.Equal(single.Max, chunked.Max);
        foreach (double q in Quantiles) Assert.Equal(single.Quantile(q), chunked.Quantile(q));
    }
}
