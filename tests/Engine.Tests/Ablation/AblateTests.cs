using System.Text.Json.Nodes;
using NeuronEngine.Ablation;
using NeuronEngine.Corpus;
using NeuronEngine.Cli;
using NeuronEngine.Cpu;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Text;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Ablation;

/// <summary>
/// `engine ablate` against a brute force over single-neuron weight edits: ablating neuron n of layer l to the value a is
/// the same model as c_proj row n set to 0 and a·(that row) added to c_proj's bias; the edited model's plain forward
/// (no patch) against the original's gives Δloss, KL and the mean Δ log-probabilities. Neuron means come from the tests'
/// float64 forward. Tolerance 1e-4 (absolute + relative): float32 forwards of two different models.
/// </summary>
public class AblateTests
{
    private static readonly Gpt2Config Config = new(NLayer: 2, NHead: 2, NEmbd: 32, NPositions: 16, VocabSize: 53);
    private const int SeqLen = 6, Windows = 4, Top = 5;

    internal static void EditTensor(string file, string name, Func<float[], float[]> edit)
    {
        TensorEntry entry;
        long dataOffset;
        using (var st = SafeTensorsFile.Open(file)) { entry = st.Entries.Single(e => e.Name == name); dataOffset = st.DataOffset; }
        Assert.Equal(TensorDType.F32, entry.DType);
        var bytes = new byte[entry.ByteLength];
        using var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = dataOffset + entry.Begin;
        fs.ReadExactly(bytes);
        var values = edit(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray());
        fs.Position = dataOffset + entry.Begin;
        fs.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static float[] LogProbs(string model, int[] tokens)
    {
        using var weights = Gpt2Weights.Open(model);
        using var device = new CpuDevice(weights);
        return LogProbCollector.Run(device, tokens, Windows, SeqLen, Config.VocabSize);
    }

    [Theory]
    [InlineData("mean")]
    [InlineData("zero")]
    public void AblateMatchesBruteForceOverWeightEdits(string ablation)
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, "model");
        SyntheticGpt2.Write(model, Config, new(Seed: 41, DType: TensorDType.F32));
        var tokens = Cpu.CpuForwardTests.RandomTokens(42, Windows * SeqLen, Config.VocabSize);
        string corpus = Path.Combine(dir.Path, "c.bin");
        LlmcTokenFile.Write(corpus, tokens.Select(t => (ushort)t).ToArray());
        string output = Path.Combine(dir.Path, "out");
        Assert.Equal(0, EngineCli.Run("ablate", "--model", model, "--corpus", corpus, "--out", output, "--layers", "0,1", "--neurons", "3,70",
            "--seq-len", $"{SeqLen}", "--device", "cpu", "--top", $"{Top}", "--ablation", ablation, "--batch", "2"));

        var original = LogProbs(model, tokens);
        var tokenizer = Gpt2Tokenizer.Load();
        foreach (int layer in new[] { 0, 1 })
        {
            List<double[,]> acts = [];
            if (ablation == "mean")
            {
                using var w = Gpt2Weights.Open(model);
                for (int win = 0; win < Windows; win++) acts.Add(NaiveGpt2.MlpActivations(w, tokens[(win * SeqLen)..((win + 1) * SeqLen)], layer, out _)[layer]);
            }
            foreach (int neuron in new[] { 3, 70 })
            {
                double a = ablation == "zero" ? 0 : acts.Sum(h => Enumerable.Range(0, SeqLen).Sum(t => h[t, neuron])) / (Windows * SeqLen);
                string edited = Path.Combine(dir.Path, $"edit-{layer}-{neuron}");
                SyntheticGpt2.Write(edited, Config, new(Seed: 41, DType: TensorDType.F32));
                float[] row = [];
                EditTensor(Path.Combine(edited, "model.safetensors"), $"h.{layer}.mlp.c_proj.weight", w =>
                {
                    row = w.AsSpan(neuron * Config.NEmbd, Config.NEmbd).ToArray();
                    Array.Clear(w, neuron * Config.NEmbd, Config.NEmbd);
                    return w;
                });
                EditTensor(Path.Combine(edited, "model.safetensors"), $"h.{layer}.mlp.c_proj.bias", b => b.Select((v, i) => (float)(v + a * row[i])).ToArray());
                var ablated = LogProbs(edited, tokens);

                double deltaLoss = 0, kl = 0;
                var delta = new double[Config.VocabSize];
                for (int win = 0; win < Windows; win++)
                    for (int t = 0; t < SeqLen; t++)
                    {
                        int row0 = (win * SeqLen + t) * Config.VocabSize;
                        if (t + 1 < SeqLen) { int next = tokens[win * SeqLen + t + 1]; deltaLoss += original[row0 + next] - ablated[row0 + next]; }
                        for (int v = 0; v < Config.VocabSize; v++)
                        {
                            double d = ablated[row0 + v] - original[row0 + v];
                            kl -= Math.Exp(original[row0 + v]) * d;
                            delta[v] += d;
                        }
                    }
                deltaLoss /= Windows * (SeqLen - 1);
                kl /= Windows * SeqLen;
                for (int v = 0; v < delta.Length; v++) delta[v] /= Windows * SeqLen;

                var json = JsonNode.Parse(File.ReadAllText(AblationFiles.OpenAiPath(output, layer, neuron)))!.AsObject();
                Assert.Equal("NeuronAblationSummary", json.First().Value!.GetValue<string>());
                Assert.Equal("dataclass_name", json.First().Key);
                Close(a, (double)json["ablation_value"]!, $"{layer}/{neuron} value");
                Close(deltaLoss, (double)json["delta_loss"]!, $"{layer}/{neuron} delta_loss");
                Close(kl, (double)json["kl"]!, $"{layer}/{neuron} kl");
                Assert.True(kl > 0, "the ablation changes the predictions");
                var promoted = Enumerable.Range(0, Config.VocabSize).OrderBy(v => delta[v]).ThenBy(v => v).Take(Top).ToArray();
                var suppressed = Enumerable.Range(0, Config.VocabSize).OrderByDescending(v => delta[v]).ThenBy(v => v).Take(Top).ToArray();
                var ps = json["promoted_tokens"]!["strengths"]!.AsArray().Select(s => (double)s!).ToArray();
                var ss = json["suppressed_tokens"]!["strengths"]!.AsArray().Select(s => (double)s!).ToArray();
                for (int i = 0; i < Top; i++)
                {
                    Close(-delta[promoted[i]], ps[i], $"{layer}/{neuron} promoted {i}");
                    Close(delta[suppressed[i]], ss[i], $"{layer}/{neuron} suppressed {i}");
                }
                Assert.Equal(tokenizer.DisplayToken(promoted[0]), (string)json["promoted_tokens"]!["tokens"]![0]!);
                Assert.Equal(tokenizer.DisplayToken(suppressed[0]), (string)json["suppressed_tokens"]!["tokens"]![0]!);

                // The packed file holds the same numbers.
                using var packed = SafeTensorsFile.Open(Path.Combine(output, AblationFiles.PackedFileName(layer)));
                var neurons = packed.Span<int>(packed.Get("neurons")).ToArray();
                int index = Array.IndexOf(neurons, neuron);
                Assert.Equal((float)(double)json["delta_loss"]!, packed.Span<float>(packed.Get("delta_loss"))[index]);
                Assert.Equal(promoted[0], packed.Span<int>(packed.Get("promoted.tokens"))[index * Top]);
            }
        }
    }

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-4 * (1 + Math.Abs(expected)), $"{what}: {actual} vs {expected}");

    [Fact]
    public void AKilledRunResumesPerLayerAndACompleteOneIsKept()
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, "model");
        SyntheticGpt2.Write(model, Config, new(Seed: 43, DType: TensorDType.F32));
        string corpus = Path.Combine(dir.Path, "c.bin");
        LlmcTokenFile.Write(corpus, Cpu.CpuForwardTests.RandomTokens(44, Windows * SeqLen, Config.VocabSize).Select(t => (ushort)t).ToArray());
        string output = Path.Combine(dir.Path, "out");
        string[] args = ["ablate", "--model", model, "--corpus", corpus, "--out", output, "--neurons", "1-2", "--seq-len", $"{SeqLen}", "--device", "cpu", "--max-windows", "2"];
        Assert.Equal(0, EngineCli.Run([.. args, "--layers", "0"]));
        string layer0 = File.ReadAllText(AblationFiles.OpenAiPath(output, 0, 1));
        // A different layer selection is other settings: refused.
        Assert.Equal(2, EngineCli.Run([.. args, "--layers", "0-1"]));
        // A run killed after layer 0 (its manifest not complete) continues with layer 1 and keeps layer 0's files.
        var manifest = AblationManifest.TryLoad(output)!;
        var settings = manifest.Settings with { Layers = [0, 1] };
        (manifest with { Settings = settings, Complete = false }).Save(output);
        Assert.Equal(0, EngineCli.Run([.. args, "--layers", "0-1"]));
        Assert.Equal(layer0, File.ReadAllText(AblationFiles.OpenAiPath(output, 0, 1)));
        Assert.True(File.Exists(AblationFiles.OpenAiPath(output, 1, 2)));
        Assert.True(AblationManifest.TryLoad(output)!.Complete);
        Assert.Equal(0, EngineCli.Run([.. args, "--layers", "0-1"]));   // complete: nothing to do
    }
}
