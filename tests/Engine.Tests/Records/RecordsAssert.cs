using NeuronEngine.Records;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Records;

/// <summary>"Equals one run" for records outputs: selections bit for bit, moments (or statistics) within a relative tolerance.</summary>
public static class RecordsAssert
{
    /// <summary>Two packed outputs: same windows covered, same keys and activations of every selection, same boundaries, moments within <paramref name="momentTolerance"/>.</summary>
    public static void PackedEqual(string expectedDir, string actualDir, double momentTolerance)
    {
        var (em, es, et) = RecordsOutput.ReadPacked(expectedDir);
        var (am, @as, at) = RecordsOutput.ReadPacked(actualDir);
        Assert.True(am.Complete, $"{actualDir} is not complete");
        Assert.Equal(em.Windows, am.Windows);
        Assert.Equal(es.Select(s => s.Layer), @as.Select(s => s.Layer));
        Assert.Equal(et.Keys.Order(), at.Keys.Order());
        foreach (var (w, tokens) in et) Assert.Equal(tokens, at[w]);
        for (int i = 0; i < es.Count; i++)
        {
            foreach (var (a, b) in new[] { (es[i].Top, @as[i].Top), (es[i].Random, @as[i].Random), (es[i].Quantile, @as[i].Quantile) })
            {
                Assert.Equal(a.Keys, b.Keys); // bit for bit: both sorted by the same keys
                Assert.Equal(a.Activations, b.Activations);
            }
            Assert.Equal(es[i].Boundaries, @as[i].Boundaries);
            for (int k = 0; k < es[i].Moments.Length; k++)
                RecordsFixture.AssertClose(es[i].Moments[k], @as[i].Moments[k], momentTolerance, $"layer {es[i].Layer}: moment {k % 5} of neuron {k / 5}");
        }
    }

    /// <summary>
    /// Two outputs in OpenAI's layout: the same {layer}/{neuron}.json files, each with identical records (tokens and
    /// activations) and boundaries, and mean, variance, skewness and kurtosis within <paramref name="statsTolerance"/>.
    /// </summary>
    public static void OpenAiEqual(string expectedDir, string actualDir, double statsTolerance)
    {
        Assert.True(RecordsManifest.TryLoad(actualDir) is { Complete: true }, $"{actualDir} is not complete");
        var expected = NeuronRecordFile.Enumerate(expectedDir);
        var actual = NeuronRecordFile.Enumerate(actualDir);
        Assert.Equal(expected.Select(l => (l.Layer, l.Neuron)), actual.Select(l => (l.Layer, l.Neuron)));
        for (int i = 0; i < expected.Count; i++)
        {
            var e = NeuronRecordFile.Read(expected[i].Path);
            var a = NeuronRecordFile.Read(actual[i].Path);
            string what = $"neuron {expected[i].Layer}/{expected[i].Neuron}";
            RecordsFixture.AssertClose(e.Mean, a.Mean, statsTolerance, $"mean of {what}");
            RecordsFixture.AssertClose(e.Variance, a.Variance, statsTolerance, $"variance of {what}");
            RecordsFixture.AssertClose(e.Skewness, a.Skewness, statsTolerance, $"skewness of {what}");
            RecordsFixture.AssertClose(e.Kurtosis, a.Kurtosis, statsTolerance, $"kurtosis of {what}");
            var withoutStats = a with { Mean = e.Mean, Variance = e.Variance, Skewness = e.Skewness, Kurtosis = e.Kurtosis };
            Assert.Equal(NeuronRecordFile.Serialize(e), NeuronRecordFile.Serialize(withoutStats));
        }
    }
}
