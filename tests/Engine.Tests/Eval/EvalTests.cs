using System.Text.Json.Nodes;
using NeuronEngine.Corpus;
using NeuronEngine.Cpu;
using NeuronEngine.Eval;
using NeuronEngine.Forward;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Eval;

/// <summary>
/// The LM head and `engine eval` against a float64 reference written here: <see cref="NaiveGpt2"/>'s residual stream
/// (the tests' own double forward), then ln_f, wteᵀ and log-sum-exp in double. Tolerances: 1e-5 relative on `cpu`,
/// 1e-4 on `ilgpu-cpu` (float32 kernels with their own summation order).
/// </summary>
public class EvalTests
{
    private static readonly Gpt2Config Config = new(NLayer: 2, NHead: 2, NEmbd: 32, NPositions: 16, VocabSize: 61);
    private const int SeqLen = 7, Windows = 3;

    private static int[] Tokens(int seed) => Cpu.CpuForwardTests.RandomTokens(seed, Windows * SeqLen, Config.VocabSize);

    /// <summary>[window][t, v] log-probabilities of the full model, in double, one window at a time.</summary>
    internal static double[][,] ReferenceLogProbs(Gpt2Weights w, int[] tokens, int seqLen)
    {
        var c = w.Config;
        double[] P(string name) => w.Floats(name).ToArray().Select(v => (double)v).ToArray();
        var wte = P("wte.weight");
        int windows = tokens.Length / seqLen, d = c.NEmbd, vocab = c.VocabSize;
        var result = new double[windows][,];
        for (int win = 0; win < windows; win++)
        {
            NaiveGpt2.MlpActivations(w, tokens[(win * seqLen)..((win + 1) * seqLen)], c.NLayer - 1, out var x);
            var ln = NaiveGpt2.LayerNorm(x, P("ln_f.weight"), P("ln_f.bias"), c.LayerNormEpsilon);
            var lp = new double[seqLen, vocab];
            for (int t = 0; t < seqLen; t++)
            {
                var z = new double[vocab];
                for (int v = 0; v < vocab; v++)
                    for (int i = 0; i < d; i++) z[v] += ln[t, i] * wte[v * d + i];
                double max = z.Max(), lse = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
                for (int v = 0; v < vocab; v++) lp[t, v] = z[v] - lse;
            }
            result[win] = lp;
        }
        return result;
    }

    private static double ReferenceLoss(Gpt2Weights w, int[] tokens, int seqLen)
    {
        var lp = ReferenceLogProbs(w, tokens, seqLen);
        double sum = 0;
        int count = 0;
        for (int win = 0; win < lp.Length; win++)
            for (int t = 0; t + 1 < seqLen; t++) { sum -= lp[win][t, tokens[win * seqLen + t + 1]]; count++; }
        return sum / count;
    }

    private static float[] LogProbs(IForwardDevice device, int[] tokens, int windows, int seqLen) =>
        LogProbCollector.Run(device, tokens, windows, seqLen, Config.VocabSize);

    [Theory]
    [InlineData("cpu", 1e-5, "F32")]
    [InlineData("cpu", 1e-5, "BF16")]
    [InlineData("ilgpu-cpu", 1e-4, "F32")]
    [InlineData("ilgpu-cpu", 1e-4, "F16")]
    public void LogProbsMatchFloat64Reference(string deviceName, double tolerance, string dtype)
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 21, DType: Enum.Parse<NeuronEngine.Format.TensorDType>(dtype)));
        using var weights = Gpt2Weights.Open(dir.Path);
        using var device = DeviceCatalog.Create(deviceName, weights);
        var tokens = Tokens(5);
        var actual = LogProbs(device, tokens, Windows, SeqLen);
        var expected = ReferenceLogProbs(weights, tokens, SeqLen);
        for (int win = 0; win < Windows; win++)
            for (int t = 0; t < SeqLen; t++)
                for (int v = 0; v < Config.VocabSize; v++)
                {
                    double e = expected[win][t, v], a = actual[((win * SeqLen) + t) * Config.VocabSize + v];
                    Assert.True(Math.Abs(a - e) <= tolerance * Math.Max(1, Math.Abs(e)), $"{deviceName} window {win} t {t} v {v}: {a} vs {e}");
                }
    }

    [Theory]
    [InlineData("cpu", 1e-5)]
    [InlineData("ilgpu-cpu", 1e-4)]
    public void EvalLossMatchesFloat64Reference(string deviceName, double tolerance)
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 22));
        using var weights = Gpt2Weights.Open(dir.Path);
        var tokens = Tokens(6);
        string corpus = Path.Combine(dir.Path, "c.bin");
        LlmcTokenFile.Write(corpus, tokens.Select(t => (ushort)t).ToArray());
        using var windows = CorpusReader.Open(corpus, SeqLen, Config.NPositions, Config.VocabSize);
        using var device = DeviceCatalog.Create(deviceName, weights);
        var result = ModelEval.Run(device, windows, batchWindows: 2);
        double expected = ReferenceLoss(weights, tokens, SeqLen);
        Assert.Equal(Windows * (SeqLen - 1), result.Tokens);
        Assert.True(Math.Abs(result.Loss - expected) <= tolerance * Math.Abs(expected), $"{result.Loss} vs {expected}");
        Assert.Equal(result.Loss / Math.Log(2), result.BitsPerToken, 12);
        Assert.Equal(Math.Exp(result.Loss), result.Perplexity, 9);
    }

    [Fact]
    public void CpuLogProbsOfABatchEqualOneWindowAtATime()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 23));
        using var weights = Gpt2Weights.Open(dir.Path);
        using var device = new CpuDevice(weights);
        var tokens = Tokens(7);
        var batched = LogProbs(device, tokens, Windows, SeqLen);
        for (int win = 0; win < Windows; win++)
        {
            var one = LogProbs(device, tokens[(win * SeqLen)..((win + 1) * SeqLen)], 1, SeqLen);
            Assert.Equal(batched.AsSpan(win * SeqLen * Config.VocabSize, SeqLen * Config.VocabSize).ToArray(), one);
        }
    }

    [Fact]
    public void IlgpuLogProbsOfABatchEqualOneWindowAtATime()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 24));
        using var weights = Gpt2Weights.Open(dir.Path);
        using var device = DeviceCatalog.Create("ilgpu-cpu", weights);
        var tokens = Tokens(8);
        var batched = LogProbs(device, tokens, Windows, SeqLen);
        for (int win = 0; win < Windows; win++)
        {
            var one = LogProbs(device, tokens[(win * SeqLen)..((win + 1) * SeqLen)], 1, SeqLen);
            for (int i = 0; i < one.Length; i++)
                Assert.True(Math.Abs(one[i] - batched[win * SeqLen * Config.VocabSize + i]) <= 1e-5 * Math.Max(1, Math.Abs(one[i])));
        }
    }

    [Fact]
    public void LogSoftmaxShiftsByTheMaximum()
    {
        // exp(1000) overflows float32; shifted by the max, the two tied 1000s get log ½ each and the row stays finite.
        float[] row = [1000f, 0f, -5f, 1000f];
        LogSoftmax.InPlace(row, 4);
        Assert.Equal(-Math.Log(2), row[0], 6);
        Assert.Equal(-1000 - Math.Log(2), row[1], 3);
        Assert.Equal(row[0], row[3]);
        Assert.All(row, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void EvalCommandPrintsTheReferenceLossAsJson()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 25));
        var tokens = Tokens(9);
        string corpus = Path.Combine(dir.Path, "c.bin");
        LlmcTokenFile.Write(corpus, tokens.Select(t => (ushort)t).ToArray());
        var (code, stdout, stderr) = EngineProcess.Run(null, "eval", "--model", dir.Path, "--corpus", corpus, "--seq-len", "7",
            "--max-windows", "2", "--device", "cpu", "--json");
        Assert.True(code == 0, stderr);
        var json = JsonNode.Parse(stdout)!;
        double expected;
        using (var weights = Gpt2Weights.Open(dir.Path)) expected = ReferenceLoss(weights, tokens[..(2 * SeqLen)], SeqLen);
        Assert.Equal(2 * (SeqLen - 1), (long)json["tokens"]!);
        Assert.True(Math.Abs((double)json["loss"]! - expected) <= 1e-5 * expected);
        Assert.True(Math.Abs((double)json["perplexity"]! / Math.Exp(expected) - 1) <= 1e-4);
        Assert.True(Math.Abs((double)json["bits_per_token"]! / (expected / Math.Log(2)) - 1) <= 1e-5);
    }
}
