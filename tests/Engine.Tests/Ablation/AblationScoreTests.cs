using System.Text.Json.Nodes;
using NeuronEngine.Cli;
using NeuronEngine.Cpu;
using NeuronEngine.Forward;
using NeuronEngine.Model;
using NeuronEngine.OpenAi;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Text;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Ablation;

/// <summary>
/// `engine score --ablation` against a hand computation for two neurons: the fit, the mean and the JSDs computed here in
/// double from the three runs' log-probabilities (patching itself is tested in <see cref="PatchingTests"/>); a perfect
/// simulation scores 1, a simulation equal to the mean 0; bad input as the issue lists it.
/// </summary>
public class AblationScoreTests
{
    private static readonly Gpt2Config Config = new(NLayer: 2, NHead: 2, NEmbd: 32, NPositions: 16, VocabSize: 61);
    private const int SeqLen = 5;
    private static readonly (int Layer, int Neuron)[] Neurons = [(0, 3), (1, 10)];

    private sealed class Fixture : IDisposable
    {
        public readonly TempDir Dir = new();
        public string Model => Dir["model"];
        public string Input => Dir["in"];
        public string Output => Dir["out"];
        public Fixture() => SyntheticGpt2.Write(Model, Config, new(Seed: 51));
        public void Dispose() => Dir.Dispose();
    }

    private sealed class LayerSink(int layer, int neuron) : IMlpActivationSink
    {
        public double[] Values = [];
        public void OnMlpActivations(int l, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> a)
        {
            if (l != layer) return;
            Values = new double[seqLen];
            for (int t = 0; t < seqLen; t++) Values[t] = a[t * Config.DMlp + neuron];
        }
    }

    private static double[] RealActivations(CpuDevice device, int[] tokens, int layer, int neuron)
    {
        var sink = new LayerSink(layer, neuron);
        device.Run(tokens, 1, SeqLen, new ForwardRequest { Layers = [layer], Sink = sink });
        return sink.Values;
    }

    /// <summary>Two scored sequences (top, random) and two calibration sequences (random) per neuron; expected values from the mode.</summary>
    private static List<(int Layer, int Neuron, int[][] Scored, double[][] ScoredTrue, double[][] ScoredExpected, double[][] CalTrue, double[][] CalExpected)>
        WriteResults(Fixture f, string mode)
    {
        var written = new List<(int, int, int[][], double[][], double[][], double[][], double[][])>();
        using var weights = Gpt2Weights.Open(f.Model);
        using var device = new CpuDevice(weights);
        var tokenizer = Gpt2Tokenizer.Load();
        int seed = 0;
        foreach (var (layer, neuron) in Neurons)
        {
            var windows = Enumerable.Range(0, 4).Select(_ => Cpu.CpuForwardTests.RandomTokens(100 + seed++, SeqLen, Config.VocabSize)).ToArray();
            var trues = windows.Select(w => RealActivations(device, w, layer, neuron)).ToArray();
            double[] Expected(double[] t, int i, bool calibration) => mode switch
            {
                "perfect" => t,
                "mean" => calibration ? Enumerable.Repeat(4.0, SeqLen).ToArray() : Enumerable.Range(0, SeqLen).Select(k => (double)(k + i)).ToArray(),
                _ => calibration ? t.Select((v, k) => (v - 0.1) / 2 + 0.01 * k).ToArray() : t.Select((v, k) => 3 * v - 0.2 * k + 0.5).ToArray(),
            };
            var scoredExpected = new[] { Expected(trues[0], 0, false), Expected(trues[1], 1, false) };
            var calExpected = new[] { Expected(trues[2], 2, true), Expected(trues[3], 3, true) };
            ScoredSequenceSimulation Seq(int w, double[] expected) => new()
            {
                Simulation = new SequenceSimulation { Tokens = windows[w].Select(tokenizer.DisplayToken).ToArray(), ExpectedActivations = expected },
                TrueActivations = trues[w],
            };
            var results = new NeuronSimulationResults
            {
                NeuronId = new NeuronId { LayerIndex = layer, NeuronIndex = neuron },
                ScoredExplanations = [new ScoredExplanation
                {
                    Explanation = $"neuron {neuron}",
                    ScoredSimulation = new ScoredSimulation { ScoredSequenceSimulations = [Seq(0, scoredExpected[0]), Seq(1, scoredExpected[1])] },
                }],
            };
            // In "mean" mode the scored sequences are both top records, so the mean (over random records) is the calibration's.
            var secondSource = mode == "mean" ? RecordSource.Top : RecordSource.Random;
            var sidecar = new SimulationSidecar
            {
                Layer = layer, Neuron = neuron,
                ScoredExplanations = [new ExplanationSidecar
                {
                    Explanation = $"neuron {neuron}",
                    Sequences = [new SequenceOrigin { Source = RecordSource.Top, Index = 2 }, new SequenceOrigin { Source = secondSource, Index = 1 }],
                    CalibrationSequences = new[] { 2, 3 }.Select(w => new CalibrationSequence { Source = RecordSource.Random, Index = w, TrueActivations = trues[w], ExpectedActivations = calExpected[w - 2] }).ToArray(),
                }],
            };
            SimulationResultsFile.Write(SimulationResultsFile.PathFor(f.Input, layer, neuron), results);
            SimulationSidecarFile.Write(SimulationSidecarFile.PathFor(f.Input, layer, neuron), sidecar);
            written.Add((layer, neuron, windows[..2], trues[..2], scoredExpected, trues[2..], calExpected));
        }
        return written;
    }

    private static Dictionary<(int, int), double?> AblationScores(Fixture f)
    {
        var (code, _, stderr) = EngineProcess.Run(null, "score", "--explanations", f.Input, "--out", f.Output, "--ablation", "--model", f.Model, "--device", "cpu", "--batch", "2", "--write-results");
        Assert.True(code == 0, stderr);
        return File.ReadAllLines(Path.Combine(f.Output, "scores.jsonl")).Select(l => JsonNode.Parse(l)!)
            .ToDictionary(j => ((int)j["layer"]!, (int)j["neuron"]!), j => (double?)j["ablation_score"]);
    }

    private static double Jsd(float[] p, float[] q, int row)
    {
        double sum = 0;
        for (int v = 0; v < Config.VocabSize; v++)
        {
            double a = Math.Exp(p[row * Config.VocabSize + v]), b = Math.Exp(q[row * Config.VocabSize + v]), m = (a + b) / 2;
            sum += 0.5 * a * Math.Log(a / m) + 0.5 * b * Math.Log(b / m);
        }
        return sum;
    }

    [Fact]
    public void AblationScoreEqualsAHandComputationForTwoNeurons()
    {
        using var f = new Fixture();
        var written = WriteResults(f, "hand");
        var scores = AblationScores(f);
        using var weights = Gpt2Weights.Open(f.Model);
        using var device = new CpuDevice(weights);
        foreach (var (layer, neuron, windows, scoredTrue, scoredExpected, calTrue, calExpected) in written)
        {
            // Least squares of true on expected over the calibration split, by hand.
            var x = calExpected.SelectMany(v => v).ToArray();
            var y = calTrue.SelectMany(v => v).ToArray();
            double mx = x.Average(), my = y.Average();
            double slope = x.Zip(y).Sum(p => (p.First - mx) * (p.Second - my)) / x.Sum(v => (v - mx) * (v - mx)), intercept = my - slope * mx;
            // The mean: random records only (scored sequence 1 and both calibration sequences).
            double mean = scoredTrue[1].Concat(calTrue[0]).Concat(calTrue[1]).Average();
            double jsdSim = 0, jsdMean = 0;
            for (int s = 0; s < 2; s++)
            {
                var real = LogProbCollector.Run(device, windows[s], 1, SeqLen, Config.VocabSize);
                var sim = LogProbCollector.Run(device, windows[s], 1, SeqLen, Config.VocabSize,
                    [new MlpPatch(layer, neuron, scoredExpected[s].Select(v => (float)(slope * v + intercept)).ToArray())]);
                var ablated = LogProbCollector.Run(device, windows[s], 1, SeqLen, Config.VocabSize, [MlpPatch.Constant(layer, neuron, (float)mean, SeqLen)]);
                for (int t = 0; t < SeqLen; t++) { jsdSim += Jsd(real, sim, t); jsdMean += Jsd(real, ablated, t); }
            }
            double expected = 1 - jsdSim / jsdMean;
            Assert.True(jsdMean > 1e-6, "mean ablation moves the predictions");
            Assert.True(Math.Abs(scores[(layer, neuron)]!.Value - expected) <= 1e-5, $"{layer}/{neuron}: {scores[(layer, neuron)]} vs {expected}");
        }
        // …and the sidecar carries it.
        var sidecar = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(Path.Combine(f.Output, "explanations"), 0, 3))!;
        Assert.Equal(scores[(0, 3)], sidecar.ScoredExplanations[0].AblationScore);
    }

    [Fact]
    public void PerfectSimulationScoresOne()
    {
        using var f = new Fixture();
        WriteResults(f, "perfect");
        foreach (var score in AblationScores(f).Values) Assert.True(Math.Abs(score!.Value - 1) <= 1e-6, $"{score}");
    }

    [Fact]
    public void SimulationEqualToTheMeanScoresZero()
    {
        using var f = new Fixture();
        WriteResults(f, "mean");
        foreach (var score in AblationScores(f).Values) Assert.True(Math.Abs(score!.Value) <= 1e-5, $"{score}");
    }

    [Fact]
    public void BadInputIsOneLineAndAMissingTrueActivationIsAFailure()
    {
        using var f = new Fixture();
        WriteResults(f, "hand");
        string[] score = ["score", "--explanations", f.Input, "--device", "cpu"];
        var (code, _, stderr) = EngineProcess.Run(null, [.. score, "--out", f.Dir["o1"], "--ablation"]);
        Assert.Equal(2, code);
        Assert.Equal("error: --ablation needs --model: the subject model whose neurons the results explain", stderr.Trim());

        // A model of another shape: both shapes named.
        string small = f.Dir["small"];
        SyntheticGpt2.Write(small, new Gpt2Config(1, 2, 16, 16, 61), new(Seed: 1));
        (code, _, stderr) = EngineProcess.Run(null, [.. score, "--out", f.Dir["o2"], "--ablation", "--model", small]);
        Assert.Equal(2, code);
        Assert.Contains("has 1 layers × 64 neurons, but", stderr);
        Assert.Contains("is layer 1 neuron 10", stderr);

        // A neuron whose results lack true activations: listed in failures.jsonl, the other scored, exit 1.
        string broken = SimulationResultsFile.PathFor(f.Input, 0, 3);
        File.WriteAllText(broken, File.ReadAllText(broken).Replace("\"true_activations\":[", "\"true_activations\":[],\"x\":["));
        var results = SimulationResultsFile.Read(broken);
        Assert.Null(results.Results);
        (code, _, stderr) = EngineProcess.Run(null, [.. score, "--out", f.Dir["o3"], "--ablation", "--model", f.Model]);
        Assert.Equal(1, code);
        Assert.Contains(Path.GetFileName(broken), File.ReadAllText(Path.Combine(f.Dir["o3"], "failures.jsonl")));
        var line = JsonNode.Parse(File.ReadAllLines(Path.Combine(f.Dir["o3"], "scores.jsonl")).Single())!;
        Assert.Equal(1, (int)line["layer"]!);
        Assert.NotNull(line["ablation_score"]);

        // Results without calibration simulations: said, no scale guessed.
        string noCal = f.Dir["nocal"];
        foreach (var (layer, neuron) in Neurons.Skip(1))
        {
            File.Copy(SimulationResultsFile.PathFor(f.Input, layer, neuron), Directory.CreateDirectory(Path.Combine(noCal, $"{layer}")).FullName + $"/{neuron}.jsonl");
            var side = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(f.Input, layer, neuron))!;
            SimulationSidecarFile.Write(SimulationSidecarFile.PathFor(noCal, layer, neuron),
                side with { ScoredExplanations = side.ScoredExplanations.Select(e => e with { CalibrationSequences = null }).ToArray() });
        }
        (code, _, stderr) = EngineProcess.Run(null, ["score", "--explanations", noCal, "--device", "cpu", "--out", f.Dir["o4"], "--ablation", "--model", f.Model]);
        Assert.Equal(2, code);
        Assert.Contains("no calibration simulations", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
