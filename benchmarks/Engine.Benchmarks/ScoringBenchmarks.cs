using BenchmarkDotNet.Attributes;
using NeuronEngine.Scoring;

namespace NeuronEngine.Benchmarks;

/// <summary>
/// Scores every neuron of GPT-2 XL (48 layers × 6400 = 307,200 neurons) with 10 scored sequences
/// (5 top, 5 random) of 64 tokens each: 196.6 M tokens, about 1.6 GB of float activations.
/// Run: dotnet run -c Release --project benchmarks/Engine.Benchmarks -- --filter '*ScoringBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class ScoringBenchmarks
{
    public const int Neurons = 307_200;
    public const int SequencesPerNeuron = 10;
    public const int TokensPerSequence = 64;

    private ScoringBatch _batch = null!;
    private CpuBatchScorer _scorer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _batch = CreateBatch();
        _scorer = new CpuBatchScorer();
    }

    [Benchmark]
    public ScoreTriple[] ScoreAllNeurons() => _scorer.Score(_batch);

    /// <summary>The benchmark batch (also used by <see cref="IlgpuScoringBenchmarks"/>): the same data on every call.</summary>
    internal static ScoringBatch CreateBatch()
    {
        const int tokensPerNeuron = SequencesPerNeuron * TokensPerSequence;
        long tokens = (long)Neurons * tokensPerNeuron;
        var trueActs = new float[tokens];
        var expected = new float[tokens];
        var offsets = new int[Neurons + 1];
        var topTokens = new int[Neurons];
        var random = new Random(12345);
        for (int n = 0; n < Neurons; n++)
        {
            offsets[n + 1] = offsets[n] + tokensPerNeuron;
            topTokens[n] = tokensPerNeuron / 2; // first half top records, second half random, as in OpenAI's data
        }
        // Sparse GELU-like activations and a simulator that roughly follows them on a 0–10 scale.
        for (long i = 0; i < tokens; i++)
        {
            float activation = random.NextDouble() < 0.1 ? (float)(random.NextDouble() * 3) : (float)(random.NextDouble() * -0.17);
            trueActs[i] = activation;
            expected[i] = MathF.Round(Math.Clamp(activation * 3 + (float)(random.NextDouble() - 0.5) * 2, 0, 10));
        }
        return new ScoringBatch(trueActs, expected, offsets, topTokens);
    }
}
