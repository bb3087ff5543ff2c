using NeuronEngine.Cpu;
using NeuronEngine.Format;
using NeuronEngine.Forward;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Ablation;

/// <summary>
/// Patching MLP neurons before c_proj (<see cref="MlpPatch"/>) and the fan-out, on `cpu` (bit-identical where the issue
/// asks) and `ilgpu-cpu` (1e-5 relative: the same kernels, other batch shapes).
/// </summary>
public class PatchingTests
{
    private static readonly Gpt2Config Config = new(NLayer: 3, NHead: 2, NEmbd: 32, NPositions: 16, VocabSize: 53);
    private const int SeqLen = 6;

    private static int[] Tokens(int seed, int windows) => Cpu.CpuForwardTests.RandomTokens(seed, windows * SeqLen, Config.VocabSize);

    private sealed class LayerSink(int layer) : IMlpActivationSink
    {
        public float[] Values = [];
        public void OnMlpActivations(int l, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
        {
            if (l == layer) Values = activations.ToArray();
        }
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"{what} [{i}]: {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void PatchingANeuronWithItsOwnActivationsChangesNothing(string deviceName)
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 31));
        using var weights = Gpt2Weights.Open(dir.Path);
        using var device = DeviceCatalog.Create(deviceName, weights);
        const int windows = 2, layer = 1, neuron = 77;
        var tokens = Tokens(1, windows);
        var sink = new LayerSink(layer);
        device.Run(tokens, windows, SeqLen, new ForwardRequest { Layers = [layer], Sink = sink });
        var patches = Enumerable.Range(0, windows).Select(w => (MlpPatch?)new MlpPatch(layer, neuron,
            Enumerable.Range(0, SeqLen).Select(t => sink.Values[(w * SeqLen + t) * Config.DMlp + neuron]).ToArray())).ToArray();
        var plain = LogProbCollector.Run(device, tokens, windows, SeqLen, Config.VocabSize);
        var patched = LogProbCollector.Run(device, tokens, windows, SeqLen, Config.VocabSize, patches);
        Assert.Equal(plain, patched);   // bit-identical: the same values are written back
    }

    [Theory]
    [InlineData("cpu", 1e-6)]
    [InlineData("ilgpu-cpu", 1e-5)]
    public void ZeroPatchEqualsZeroingTheCProjRow(string deviceName, double tolerance)
    {
        using var dir = new TempDir();
        using var edited = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 32));
        SyntheticGpt2.Write(edited.Path, Config, new(Seed: 32));
        const int layer = 2, neuron = 5, windows = 2;
        // The second, independent way to ablate: row `neuron` of c_proj ([4d, d], Conv1D) set to 0 in a copy of the weights.
        string file = edited["model.safetensors"];
        TensorEntry entry;
        long dataOffset;
        using (var st = SafeTensorsFile.Open(file)) { entry = st.Entries.Single(e => e.Name == $"h.{layer}.mlp.c_proj.weight"); dataOffset = st.DataOffset; }
        Assert.Equal(TensorDType.F32, entry.DType);
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            fs.Position = dataOffset + entry.Begin + (long)neuron * Config.NEmbd * sizeof(float);
            fs.Write(new byte[Config.NEmbd * sizeof(float)]);
        }
        var tokens = Tokens(2, windows);
        float[] zeroPatched, rowZeroed;
        using (var weights = Gpt2Weights.Open(dir.Path))
        using (var device = DeviceCatalog.Create(deviceName, weights))
            zeroPatched = LogProbCollector.Run(device, tokens, windows, SeqLen, Config.VocabSize,
                [MlpPatch.Constant(layer, neuron, 0f, SeqLen), MlpPatch.Constant(layer, neuron, 0f, SeqLen)]);
        using (var weights = Gpt2Weights.Open(edited.Path))
        using (var device = DeviceCatalog.Create(deviceName, weights))
            rowZeroed = LogProbCollector.Run(device, tokens, windows, SeqLen, Config.VocabSize);
        AssertClose(rowZeroed, zeroPatched, tolerance, "zero patch vs zeroed c_proj row");
        // …and the patch did something: the unpatched model differs.
        using (var weights = Gpt2Weights.Open(dir.Path))
        using (var device = DeviceCatalog.Create(deviceName, weights))
            Assert.NotEqual(rowZeroed, LogProbCollector.Run(device, tokens, windows, SeqLen, Config.VocabSize));
    }

    [Theory]
    [InlineData("cpu", 0.0)]
    [InlineData("ilgpu-cpu", 1e-5)]
    public void PerElementPatchesInOneFannedOutBatchEqualSeparateRuns(string deviceName, double tolerance)
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 33));
        using var weights = Gpt2Weights.Open(dir.Path);
        using var device = DeviceCatalog.Create(deviceName, weights);
        const int windows = 2;
        var tokens = Tokens(3, windows);
        int[] fanOut = [0, 1, 0, 1, 0];
        MlpPatch?[] patches =
        [
            null,                                                                   // the real run of window 0
            MlpPatch.Constant(1, 9, 3.5f, SeqLen),                                  // every position
            MlpPatch.Constant(2, 100, -1f, SeqLen, positions: [0, 4]),              // some positions
            new MlpPatch(1, 9, [0.1f, -0.2f, 0.3f, 2f, float.NaN, 1f]),             // a per-position vector
            MlpPatch.Constant(0, 127, 0f, SeqLen),
        ];
        var batched = LogProbCollector.Run(device, tokens, windows, SeqLen, Config.VocabSize, patches, fanOut);
        int rowBlock = SeqLen * Config.VocabSize;
        for (int e = 0; e < fanOut.Length; e++)
        {
            var window = tokens[(fanOut[e] * SeqLen)..((fanOut[e] + 1) * SeqLen)];
            var alone = LogProbCollector.Run(device, window, 1, SeqLen, Config.VocabSize, [patches[e]]);
            var part = batched.AsSpan(e * rowBlock, rowBlock).ToArray();
            if (tolerance == 0) Assert.Equal(alone, part);
            else AssertClose(alone, part, tolerance, $"element {e}");
        }
        // The patches differ from the real run (they are not no-ops).
        Assert.NotEqual(batched.AsSpan(0, rowBlock).ToArray(), batched.AsSpan(2 * rowBlock, rowBlock).ToArray());
    }

    [Fact]
    public void BadPatchesAreRefused()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Config, new(Seed: 34));
        using var weights = Gpt2Weights.Open(dir.Path);
        using var device = new CpuDevice(weights);
        var tokens = Tokens(4, 1);
        Assert.Contains("neuron 128 does not exist", Assert.Throws<ArgumentException>(() =>
            LogProbCollector.Run(device, tokens, 1, SeqLen, Config.VocabSize, [MlpPatch.Constant(0, 128, 0, SeqLen)])).Message);
        Assert.Contains("2 patches for a batch of 1", Assert.Throws<ArgumentException>(() =>
            LogProbCollector.Run(device, tokens, 1, SeqLen, Config.VocabSize, [null, null])).Message);
        Assert.Contains("window 1 is not in a batch of 1", Assert.Throws<ArgumentException>(() =>
            LogProbCollector.Run(device, tokens, 1, SeqLen, Config.VocabSize, null, [0, 1])).Message);
    }
}
