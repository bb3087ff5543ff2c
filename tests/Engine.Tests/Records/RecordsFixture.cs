using NeuronEngine.Cli;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Records;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;
using NeuronEngine.Numerics;

namespace NeuronEngine.Tests.Records;

/// <summary>
/// A tiny synthetic GPT-2 (3 layers, d = 32: 128 neurons per layer), a corpus of ~100 windows of 8 tokens, and a
/// full `engine dump` of it on the cpu device, built once per test class: the brute-force yardstick.
/// </summary>
public sealed class RecordsFixture : IDisposable
{
    public const int SeqLen = 8;
    public TempDir Dir { get; } = new();
    public Gpt2Config Config { get; } = new(3, 2, 32, 64, Gpt2Tokenizer.VocabSize);
    public string Model { get; }
    public string Corpus { get; }
    public BruteForceRecords BruteForce { get; }

    public RecordsFixture()
    {
        Model = Dir["model"];
        SyntheticGpt2.Write(Model, Config, new(Seed: 5, DType: TensorDType.F32));
        string text = string.Join(" ", Enumerable.Range(0, 50).Select(i => $"Line {i}: the {i % 7} otters swam past {i * 13} boats and a quiet harbour."));
        Corpus = Dir.WriteText("corpus.txt", text);
        Assert.Equal(0, EngineCli.Run("dump", "--model", Model, "--corpus", Corpus, "--out", Dir["dump"], "--device", "cpu",
            "--seq-len", $"{SeqLen}", "--layers", "0,2", "--windows-per-shard", "1000"));
        BruteForce = new BruteForceRecords(Dir["dump"]);
    }

    /// <summary>Common arguments of the records runs compared with the brute force.</summary>
    public string[] RecordsArgs(string outDir, params string[] extra) =>
        ["records", "--model", Model, "--corpus", Corpus, "--out", outDir, "--seq-len", $"{SeqLen}",
         "--top-k", "5", "--random", "4", "--quantile-samples", "3", "--seed", "7", "--pilot-windows", "16",
         .. (extra.Contains("--layers") ? Array.Empty<string>() : ["--layers", "0,2"]), .. extra];

    public void Dispose() => Dir.Dispose();

    /// <summary>Asserts a layer's collected state equals the brute-force records over <paramref name="windows"/>.</summary>
    public void AssertMatchesBruteForce(LayerRecordState s, IEnumerable<int> windows, double momentTolerance, BruteForceRecords? reference = null)
    {
        var bf = reference ?? BruteForce;
        var ws = windows.ToArray();
        int layer = s.Layer;
        for (int n = 0; n < s.Shape.Neurons; n++)
        {
            var top = s.Top.Sorted(n);
            Assert.Equal(bf.Top(layer, n, s.Shape.TopK, ws), top.Select(slot => (long)RecordKeys.Window(s.Top.Keys[n * s.Top.Capacity + slot])));
            foreach (var slot in top)
            {
                ulong key = s.Top.Keys[n * s.Top.Capacity + slot];
                int w = (int)RecordKeys.Window(key);
                Assert.Equal(bf.WindowMax(layer, w, n), RecordKeys.TopMax(key));
                Assert.Equal(bf.WindowActivations(layer, w, n), s.Top.SlotActivations(n, slot).ToArray());
            }
            var random = s.Random.Sorted(n);
            Assert.Equal(bf.Random(layer, n, s.Shape.RandomCount, s.Shape.Seed, ws), random.Select(slot => (long)RecordKeys.Window(s.Random.Keys[n * s.Random.Capacity + slot])));
            foreach (var slot in random)
                Assert.Equal(bf.WindowActivations(layer, (int)RecordKeys.Window(s.Random.Keys[n * s.Random.Capacity + slot]), n), s.Random.SlotActivations(n, slot).ToArray());

            var boundaries = s.Boundaries.AsSpan(n * RecordShape.Boundaries, RecordShape.Boundaries).ToArray();
            Assert.Equal(bf.Boundaries(layer, n, 16), boundaries);
            var bands = bf.Quantile(layer, n, s.Shape.PerBand, s.Shape.Seed, boundaries, ws);
            for (int b = 0; b < RecordShape.Bands; b++)
            {
                int g = n * RecordShape.Bands + b;
                var slots = s.Quantile.Sorted(g);
                Assert.Equal(bands[b], slots.Select(slot => (long)RecordKeys.Window(s.Quantile.Keys[g * s.Quantile.Capacity + slot])));
                foreach (var slot in slots)
                    Assert.Equal(bf.WindowActivations(layer, (int)RecordKeys.Window(s.Quantile.Keys[g * s.Quantile.Capacity + slot]), n), s.Quantile.SlotActivations(g, slot).ToArray());
            }

            var expected = bf.Stats(layer, n, ws);
            var actual = Moments.Statistics(s.Moments.AsSpan(n * Moments.Stride, Moments.Stride));
            Assert.Equal(ws.Length * (double)s.Shape.SeqLen, s.Moments[n * Moments.Stride + Moments.Count]);
            AssertClose(expected.Mean, actual.Mean, momentTolerance, $"mean of {layer}/{n}");
            AssertClose(expected.Variance, actual.Variance, momentTolerance, $"variance of {layer}/{n}");
            AssertClose(expected.Skewness, actual.Skewness, momentTolerance, $"skewness of {layer}/{n}");
            AssertClose(expected.Kurtosis, actual.Kurtosis, momentTolerance, $"kurtosis of {layer}/{n}");
        }
    }

    /// <summary>|a − e| ≤ tol·max(|e|, 1e-3·scale): relative, with a floor for means near zero.</summary>
    public static void AssertClose(double expected, double actual, double tolerance, string what)
    {
        double scale = Math.Max(Math.Abs(expected), 1e-3);
        Assert.True(Math.Abs(actual - expected) <= tolerance * scale, $"{what}: {actual:R}, expected {expected:R} (tolerance {tolerance:E0} relative)");
    }
}
