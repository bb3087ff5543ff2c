using BenchmarkDotNet.Attributes;
using NeuronEngine.OpenAi;
using NeuronEngine.Scoring;

namespace NeuronEngine.Benchmarks;

/// <summary>
/// `engine score`'s own work on files shaped like OpenAI's published GPT-2 XL explanations (1 explanation, 10 scored
/// sequences × 64 tokens, a distribution over 0–10 per token; ≈ 200 KB of JSON each), read from the page cache:
/// <list type="bullet">
/// <item><c>Scan</c>: one file's bytes scanned into the scorer's arrays (<see cref="SimulationResultsScan"/>), in memory:
/// the parser's MB/s of JSON per core is FileBytes / the mean;</item>
/// <item><c>ScoreFiles</c>: <see cref="ScoreRunner"/> over <see cref="Files"/> files (scores.jsonl, and with
/// WriteResults the rescored copies), on <see cref="Threads"/> threads: per core, files/s = Files / mean with Threads = 1.</item>
/// </list>
/// The setup prints the bytes per file. `benchmarks/anchors/score_yardstick.py compare` runs the whole CLI beside a
/// Python + numpy yardstick on files written by OpenAI's dataclass layout.
/// Run: dotnet run -c Release --project benchmarks/Engine.Benchmarks -- --filter '*ScoreFilesBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class ScoreFilesBenchmarks
{
    public const int Files = 256;

    [Params(1, -1)] public int Threads { get; set; }
    [Params(false, true)] public bool WriteResults { get; set; }

    private string _root = "";
    private byte[] _oneFile = [];

    [GlobalSetup]
    public void Setup()
    {
        _root = Path.Combine(Path.GetTempPath(), $"score-files-bench-{Environment.ProcessId}");
        var random = new Random(26);
        for (int neuron = 0; neuron < Files; neuron++)
            SimulationResultsFile.Write(SimulationResultsFile.PathFor(Path.Combine(_root, "in"), 0, neuron), GptXlShapedResults(random, 0, neuron));
        _oneFile = File.ReadAllBytes(SimulationResultsFile.PathFor(Path.Combine(_root, "in"), 0, 0));
        Console.WriteLine($"// {Files} files, {_oneFile.Length:N0} bytes each");
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark]
    public int Scan()
    {
        using var scan = new SimulationResultsScan();
        return scan.TryScan(_oneFile) ? scan.TokenCount : throw new InvalidDataException("the scan refused the benchmark's file");
    }

    [Benchmark]
    public int ScoreFiles() =>
        new ScoreRunner(new CpuBatchScorer(Threads), new ScoreRunOptions { WriteResults = WriteResults, MaxDegreeOfParallelism = Threads })
            .Run(Path.Combine(_root, "in"), Path.Combine(_root, "out")).NeuronCount;

    /// <summary>One neuron as OpenAI's GPT-2 XL results hold it: 5 top and 5 random sequences of 64 tokens.</summary>
    internal static NeuronSimulationResults GptXlShapedResults(Random random, int layer, int neuron)
    {
        var sequences = Enumerable.Range(0, 10).Select(s =>
        {
            bool top = s < 5;
            double[] acts = Enumerable.Range(0, 64).Select(_ => random.NextDouble() < (top ? 0.3 : 0.05) ? random.NextDouble() * 4 : -random.NextDouble() * 0.17).ToArray();
            var probabilities = acts.Select(a =>
            {
                int centre = Math.Clamp((int)Math.Round(a * 3 + random.NextDouble() * 2 - 1), 0, 10);
                double sharpness = 0.8 + random.NextDouble() * 1.7;
                double[] w = Enumerable.Range(0, 11).Select(v => Math.Exp(-Math.Abs(v - centre) * sharpness)).ToArray();
                double total = w.Sum();
                return w.Select(x => x / total).ToArray();
            }).ToArray();
            return new ScoredSequenceSimulation
            {
                Simulation = new SequenceSimulation
                {
                    Tokens = Enumerable.Range(0, 64).Select(i => i % 7 == 0 ? " café" : $" tok{random.Next(1000)}").ToArray(),
                    ExpectedActivations = probabilities.Select(p => p.Select((q, v) => q * v).Sum()).ToArray(),
                    ActivationScale = "simulated_normalized_activations",
                    DistributionValues = probabilities.Select(_ => Enumerable.Range(0, 11).Select(v => (double)v).ToArray()).ToArray(),
                    DistributionProbabilities = probabilities,
                },
                TrueActivations = acts,
                EvCorrelationScore = 0,
                RsquaredScore = 0,
                AbsoluteDevExplainedScore = 0,
            };
        }).ToArray();
        return new NeuronSimulationResults
        {
            NeuronId = new NeuronId { LayerIndex = layer, NeuronIndex = neuron },
            ScoredExplanations =
            [
                new ScoredExplanation
                {
                    Explanation = $" words about topic {neuron % 97}",
                    ScoredSimulation = new ScoredSimulation { ScoredSequenceSimulations = sequences },
                },
            ],
        };
    }
}
