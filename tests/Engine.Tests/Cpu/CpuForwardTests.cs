using NeuronEngine.Cpu;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;
using NeuronEngine.Forward;

namespace NeuronEngine.Tests.Cpu;

/// <summary>
/// The `cpu` device against <see cref="NaiveGpt2"/> (double precision) on synthetic models of odd sizes.
/// Tolerance: |engine − naive| ≤ 1e-5 · max(1, |naive|), i.e. 1e-5 relative for activations of magnitude ≥ 1.
/// </summary>
public class CpuForwardTests
{
    internal const double Tolerance = 1e-5;

    internal sealed class CollectingSink : IMlpActivationSink
    {
        public readonly Dictionary<int, float[]> ByLayer = new();
        public readonly List<(int Layer, long FirstWindow, int Windows)> Calls = new();
        public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
        {
            Calls.Add((layer, firstWindow, windows));
            ByLayer[layer] = activations.ToArray();
        }
    }

    internal static int[] RandomTokens(int seed, int count, int vocab)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    [Theory]
    [InlineData(36, 3, 1, "F32", false)]
    [InlineData(36, 3, 7, "F16", true)]
    [InlineData(20, 4, 33, "BF16", false)]
    [InlineData(44, 2, 33, "F32", true)]
    [InlineData(20, 5, 7, "BF16", true)]
    public void ActivationsMatchNaiveDoubleForward(int d, int heads, int seqLen, string dtype, bool prefix)
    {
        using var dir = new TempDir();
        var config = new Gpt2Config(NLayer: 2, NHead: heads, NEmbd: d, NPositions: 40, VocabSize: 97);
        SyntheticGpt2.Write(dir.Path, config, new(Seed: d + seqLen, DType: Enum.Parse<TensorDType>(dtype), TransformerPrefix: prefix, IncludeAttentionBuffers: prefix));
        using var weights = Gpt2Weights.Open(dir.Path);
        const int windows = 2;
        var tokens = RandomTokens(seqLen, windows * seqLen, config.VocabSize);
        var sink = new CollectingSink();
        new CpuGpt2Forward(weights).Run(tokens, windows, seqLen, [0, 1], sink, firstWindow: 5);

        Assert.Equal([(0, 5L, 2), (1, 5L, 2)], sink.Calls);
        int n = config.DMlp;
        for (int w = 0; w < windows; w++)
        {
            var naive = NaiveGpt2.MlpActivations(weights, tokens[(w * seqLen)..((w + 1) * seqLen)], 1, out _);
            for (int l = 0; l < 2; l++)
                for (int t = 0; t < seqLen; t++)
                    for (int j = 0; j < n; j++)
                    {
                        double expected = naive[l][t, j], actual = sink.ByLayer[l][((long)w * seqLen + t) * n + j];
                        Assert.True(Math.Abs(actual - expected) <= Tolerance * Math.Max(1, Math.Abs(expected)),
                            $"layer {l} window {w} token {t} neuron {j}: {actual} vs {expected}");
                    }
        }
    }

    [Fact]
    public void WindowsAreIndependentOfBatchComposition()
    {
        // Resumed dumps recompute windows in different batches; their activations must be bit-identical.
        using var dir = new TempDir();
        var config = new Gpt2Config(1, 2, 24, 16, 50);
        SyntheticGpt2.Write(dir.Path, config, new(Seed: 9));
        using var weights = Gpt2Weights.Open(dir.Path);
        var tokens = RandomTokens(4, 5 * 8, config.VocabSize);
        var all = new CollectingSink();
        var one = new CollectingSink();
        var forward = new CpuGpt2Forward(weights);
        forward.Run(tokens, 5, 8, [0], all);
        forward.Run(tokens.AsSpan(3 * 8, 8), 1, 8, [0], one);
        Assert.Equal(all.ByLayer[0].AsSpan(3 * 8 * 96, 8 * 96).ToArray(), one.ByLayer[0]);
    }

    [Fact]
    public unsafe void StopsAfterTheLastRequestedLayer()
    {
        // Poison every tensor of layer 2 with NaN: asking for layers 0 and 1 must never touch them.
        using var dir = new TempDir();
        var config = new Gpt2Config(3, 2, 16, 16, 40);
        SyntheticGpt2.Write(dir.Path, config, new(Seed: 2));
        var tokens = RandomTokens(7, 2 * 6, config.VocabSize);
        var clean = new CollectingSink();
        using (var weights = Gpt2Weights.Open(dir.Path)) new CpuGpt2Forward(weights).Run(tokens, 2, 6, [1, 0], clean);
        string file = dir["model.safetensors"];
        List<TensorEntry> layer2;
        long dataOffset;
        using (var st = SafeTensorsFile.Open(file)) { layer2 = st.Entries.Where(e => e.Name.StartsWith("h.2.")).ToList(); dataOffset = st.DataOffset; }
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.Write))
            foreach (var e in layer2)
            {
                fs.Position = dataOffset + e.Begin;
                fs.Write(Enumerable.Repeat(BitConverter.GetBytes(float.NaN), (int)e.ElementCount).SelectMany(b => b).ToArray());
            }
        var poisoned = new CollectingSink();
        using (var weights = Gpt2Weights.Open(dir.Path, checkValues: false)) new CpuGpt2Forward(weights).Run(tokens, 2, 6, [0, 1], poisoned);
        Assert.Equal(clean.ByLayer[1], poisoned.ByLayer[1]);
        Assert.Equal([0, 1], poisoned.Calls.Select(c => c.Layer));
    }
}
