using System.Text.Json;
using NeuronEngine.Cli;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Probe;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;

namespace NeuronEngine.Tests.Probe;

/// <summary>
/// `engine probe` and <see cref="ActivationProbe"/> on a tiny synthetic model: the activations equal `engine dump`'s on
/// the same tokens (bit for bit on `cpu`, within 1e-4 on `ilgpu-cpu`), batching and padding change no value, the
/// JSON lines parse, the table has no escape codes when stdout is not a terminal, long texts are cut with a note.
/// </summary>
public sealed class ProbeTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Gpt2Config _config = new(2, 2, 32, 64, Gpt2Tokenizer.VocabSize);
    private readonly string _model;

    /// <summary>Texts of 8 to 15 tokens (so a dump at --seq-len 8 takes exactly each one's first 8 tokens), of different lengths.</summary>
    private static readonly string[] Texts =
    [
        "The lighthouse keeper counted ships until dawn.",
        "Rivers carry salt, silt and stories to the sea, slowly.",
        "Apples fell; the orchard was quiet after the storm passed by.",
        "A quick brown fox jumps over the lazy dog again and again!",
        "In 1889 the tower opened in Paris to a crowd of visitors.",
    ];

    public ProbeTests()
    {
        _model = _dir["model"];
        SyntheticGpt2.Write(_model, _config, new(Seed: 5, DType: TensorDType.F32));
    }

    public void Dispose() => _dir.Dispose();

    private static readonly string Neurons = "0:3,1:17,1:127,0:64";

    [Theory]
    [InlineData("cpu", 0.0)]
    [InlineData("ilgpu-cpu", 1e-4)]
    public void ProbeEqualsDumpOnTheSameTokens(string device, double tolerance)
    {
        var tokenizer = Gpt2Tokenizer.Load();
        foreach (var t in Texts) Assert.InRange(tokenizer.Encode(t).Length, 8, 15);
        string corpus = _dir.WriteText($"corpus-{device}.jsonl", string.Join("\n", Texts.Select(t => JsonSerializer.Serialize(new { text = t }))));
        string dumpDir = _dir[$"dump-{device}"], probeOut = _dir[$"probe-{device}.jsonl"];
        Assert.Equal(0, EngineCli.Run(["dump", "--model", _model, "--corpus", corpus, "--out", dumpDir, "--device", device, "--seq-len", "8", "--batch", "2"]));
        // --batch 1: 64 tokens a batch, so the five texts (9-15 tokens) run as two padded batches.
        Assert.Equal(0, EngineCli.Run(["probe", "--model", _model, "--texts", corpus, "--neurons", Neurons, "--device", device, "--batch", "1", "--out", probeOut]));

        using var shard = SafeTensorsFile.Open(Path.Combine(dumpDir, "shard-00000.safetensors"));
        var dumpTokens = shard.Span<int>("tokens").ToArray();
        var lines = File.ReadAllLines(probeOut);
        var neurons = Neurons.Split(',').Select(n => n.Split(':').Select(int.Parse).ToArray()).ToArray();
        Assert.Equal(Texts.Length * neurons.Length, lines.Length);
        int width = _config.DMlp;
        for (int i = 0; i < lines.Length; i++)
        {
            int text = i / neurons.Length;
            using var json = JsonDocument.Parse(lines[i]);
            var root = json.RootElement;
            Assert.Equal(["text", "tokens", "token_ids", "neuron", "activations", "max", "argmax"], root.EnumerateObject().Select(p => p.Name));
            Assert.Equal(Texts[text], root.GetProperty("text").GetString());
            var ids = root.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(tokenizer.Encode(Texts[text]), ids);
            Assert.Equal(Texts[text], string.Concat(root.GetProperty("tokens").EnumerateArray().Select(e => e.GetString())));
            Assert.Equal(dumpTokens.AsSpan(text * 8, 8).ToArray(), ids[..8]);
            int layer = neurons[i % neurons.Length][0], neuron = neurons[i % neurons.Length][1];
            Assert.Equal(layer, root.GetProperty("neuron").GetProperty("layer").GetInt32());
            Assert.Equal(neuron, root.GetProperty("neuron").GetProperty("neuron").GetInt32());
            var values = root.GetProperty("activations").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(ids.Length, values.Length);
            var dumped = shard.Span<float>($"mlp.{layer}");
            for (int t = 0; t < 8; t++)
            {
                float expected = dumped[(text * 8 + t) * width + neuron];
                if (tolerance == 0) Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(values[t]));
                else Assert.True(Math.Abs(expected - values[t]) <= tolerance, $"text {text} token {t}: {values[t]} vs dump {expected}");
            }
            Assert.Equal(values.Max(), root.GetProperty("max").GetSingle());
            Assert.Equal(Array.IndexOf(values, values.Max()), root.GetProperty("argmax").GetInt32());
        }
    }

    /// <summary>
    /// Every text alone, unpadded, is the reference; other batch sizes (so other padding and grouping) must give the same
    /// bits. Fewer, shorter sequences on `ilgpu-cpu` (its emulator runs ~1 µs per GPU thread).
    /// </summary>
    [Theory]
    [InlineData("cpu", 13, 40)]
    [InlineData("ilgpu-cpu", 5, 12)]
    public void BatchingAndPaddingChangeNoValue(string device, int count, int longest)
    {
        using var weights = Gpt2Weights.Open(_model);
        using var dev = DeviceCatalog.Create(device, weights);
        var rng = new Random(7);
        // Lengths 1..longest in no order: batches mix lengths and pad the shorter texts.
        var sequences = Enumerable.Range(0, count).Select(i => Enumerable.Range(0, 1 + (i * 7) % longest).Select(_ => rng.Next(_config.VocabSize)).ToArray()).ToList();
        if (device == "cpu") sequences.Add(Enumerable.Range(0, _config.NPositions).Select(_ => rng.Next(_config.VocabSize)).ToArray());
        var neurons = new[] { new ProbeNeuron(1, 5), new ProbeNeuron(0, 100), new ProbeNeuron(1, 127) };
        var alone = new ActivationProbe(dev, _config) { BatchTokens = 1 };
        var reference = alone.Measure(sequences, neurons);
        Assert.Equal(sequences.Count, alone.BatchesRun);
        Assert.Equal(0, alone.PaddingTokens);
        foreach (int batchTokens in device == "cpu" ? new[] { 40, 100, 4096 } : [2 * longest, 4096])
        {
            var probe = new ActivationProbe(dev, _config) { BatchTokens = batchTokens };
            var together = probe.Measure(sequences, neurons);
            if (batchTokens == 4096) Assert.Equal(1, probe.BatchesRun);
            Assert.True(probe.PaddingTokens > 0);
            for (int s = 0; s < sequences.Count; s++)
                for (int n = 0; n < neurons.Length; n++)
                    Assert.Equal(reference[s][n].Select(BitConverter.SingleToInt32Bits), together[s][n].Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void ATextLongerThanNPositionsIsCutWithANote()
    {
        string longText = string.Join(" ", Enumerable.Range(0, 50).Select(i => $"word{i}"));
        var r = EngineProcess.Run(null, "probe", "--model", _model, "--text", longText, "--text", "short one", "--neurons", "1:2", "--device", "cpu");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"^note: --text 1 has \d+ tokens; cut to the model's n_positions \(64\)$", r.StdErr.Split('\n')[0]);
        var first = JsonDocument.Parse(r.StdOut.Split('\n')[0]).RootElement;
        Assert.Equal(64, first.GetProperty("token_ids").GetArrayLength());
        Assert.Equal(64, first.GetProperty("activations").GetArrayLength());
    }

    [Fact]
    public void TheTableIsPlainWhenStdoutIsNotATerminal()
    {
        var r = EngineProcess.Run(null, "probe", "--model", _model, "--text", "Hello world.\tTab", "--layers", "0", "--neurons", "1:9", "--device", "cpu", "--format", "table");
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain('\u001b', r.StdOut);
        var lines = r.StdOut.Split('\n');
        // --neurons first, then every neuron of layer 0: 1 + 128 blocks of a header, the tokens and a blank line.
        Assert.Equal(129, lines.Count(l => l.StartsWith("neuron ", StringComparison.Ordinal)));
        Assert.StartsWith("neuron 1:9 · max ", lines[0]);
        Assert.Matches(@"^Hello\(-?\d+(\.\d+)?\)  world\(-?\d+(\.\d+)?\) \.\(-?\d+(\.\d+)?\) ⇥\(-?\d+(\.\d+)?\) Tab\(-?\d+(\.\d+)?\)$", lines[1]);
    }
}
