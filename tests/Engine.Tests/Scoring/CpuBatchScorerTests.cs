using NeuronEngine.Scoring;
using Xunit;

namespace NeuronEngine.Tests.Scoring;

public class CpuBatchScorerTests
{
    private const double Tolerance = 1e-9;

    [Fact]
    public void MatchesPerNeuronReferenceOnThousandsOfRandomNeurons()
    {
        var random = new Random(20230509);
        var neurons = Enumerable.Range(0, 3000).Select(_ => RandomNeuron(random)).ToArray();
        var builder = new ScoringBatchBuilder();
        foreach (var (sequences, top) in neurons) builder.AddNeuron(sequences, top);
        var batch = builder.Build();

        var results = new CpuBatchScorer().Score(batch);

        Assert.Equal(neurons.Length * ScoringBatch.VariantsPerNeuron, results.Length);
        int defined = 0;
        for (int i = 0; i < neurons.Length; i++)
        {
            var reference = ScoreCalculator.ScoreVariants(neurons[i].Sequences, neurons[i].Top);
            foreach (var variant in Enum.GetValues<ScoreVariant>())
            {
                var expected = reference[variant];
                var actual = results[ScoringBatch.ResultIndex(i, variant)];
                AssertClose(expected.EvCorrelation, actual.EvCorrelation, $"neuron {i} {variant} correlation");
                AssertClose(expected.RSquared, actual.RSquared, $"neuron {i} {variant} R²");
                AssertClose(expected.AbsoluteDevExplained, actual.AbsoluteDevExplained, $"neuron {i} {variant} abs dev");
                if (expected.EvCorrelation is not null) defined++;
            }
        }
        // The generator must exercise both defined and undefined scores, or the comparison proves little.
        Assert.InRange(defined, 3000, 3 * 3000 - 300);
    }

    [Fact]
    public void HandCheckableNeuronScoresAsInTheReference()
    {
        var builder = new ScoringBatchBuilder();
        builder.AddNeuron([ScoreCalculatorTests.First, ScoreCalculatorTests.Second], topSequenceCount: 1);
        var results = new CpuBatchScorer().Score(builder.Build());
        var all = results[ScoringBatch.ResultIndex(0, ScoreVariant.TopAndRandom)];
        Assert.Equal(0.99014, all.EvCorrelation!.Value, 1e-5);
        Assert.Equal(-10.56338, all.RSquared!.Value, 1e-5);
        Assert.Equal(-1.92308, all.AbsoluteDevExplained!.Value, 1e-5);
        Assert.Equal(0.99007, results[ScoringBatch.ResultIndex(0, ScoreVariant.TopOnly)].EvCorrelation!.Value, 1e-5);
        Assert.Null(results[ScoringBatch.ResultIndex(0, ScoreVariant.RandomOnly)].EvCorrelation);
    }

    [Fact]
    public void ConstantAcrossTopAndRandomGivesNullCorrelation()
    {
        // Each half is constant at the same value; the merged range must be seen as constant too.
        var builder = new ScoringBatchBuilder();
        builder.AddNeuron([new([0.1, 0.1, 0.1], [1, 2, 3]), new([0.1, 0.1], [4, 5])], topSequenceCount: 1);
        var all = new CpuBatchScorer().Score(builder.Build())[ScoringBatch.ResultIndex(0, ScoreVariant.TopAndRandom)];
        Assert.Null(all.EvCorrelation);
        Assert.NotNull(all.RSquared);
    }

    [Fact]
    public void SingleThreadedAndParallelRunsAgreeExactly()
    {
        var random = new Random(7);
        var builder = new ScoringBatchBuilder();
        for (int i = 0; i < 1000; i++)
        {
            var (sequences, top) = RandomNeuron(random);
            builder.AddNeuron(sequences, top);
        }
        var batch = builder.Build();
        Assert.Equal(new CpuBatchScorer(1).Score(batch), new CpuBatchScorer().Score(batch));
    }

    [Fact]
    public void BatchLayoutIsValidated()
    {
        Assert.Throws<ArgumentException>(() => new ScoringBatch([1f, 2f], [1f], [0, 2], [1]));
        Assert.Throws<ArgumentException>(() => new ScoringBatch([1f, 2f], [1f, 2f], [0, 3], [1]));
        Assert.Throws<ArgumentException>(() => new ScoringBatch([1f, 2f], [1f, 2f], [0, 2], [3]));
        Assert.Throws<ArgumentException>(() => new ScoringBatch([1f, 2f], [1f, 2f], [0, 2, 1, 2], [0, 0, 0]));
        Assert.Empty(new CpuBatchScorer().Score(new ScoringBatch(Array.Empty<float>(), [], [0], [])));
    }

    /// <summary>
    /// A neuron of 0–12 sequences of 0–80 tokens, values rounded to float (what the batch holds), with
    /// constant, all-zero and offset sequences mixed in.
    /// </summary>
    internal static (SequenceActivations[] Sequences, int Top) RandomNeuron(Random random)
    {
        int count = random.Next(0, 13);
        int style = random.Next(6);
        double offset = style == 5 ? 100 : 0;
        var sequences = new SequenceActivations[count];
        for (int s = 0; s < count; s++)
        {
            int length = random.Next(0, 81);
            var t = new double[length];
            var p = new double[length];
            for (int i = 0; i < length; i++)
            {
                t[i] = style switch
                {
                    0 => 0,                                    // dead neuron
                    1 => 0.25,                                 // constant neuron
                    _ => (float)(offset + random.NextDouble() * 4 - 0.2),
                };
                p[i] = style == 2 ? 0 : (float)(offset + Math.Round(random.NextDouble() * 10, 2));
            }
            sequences[s] = new SequenceActivations(t, p);
        }
        return (sequences, random.Next(0, count + 1));
    }

    private static void AssertClose(double? expected, double? actual, string what)
    {
        Assert.True(expected.HasValue == actual.HasValue, $"{what}: expected {expected}, got {actual}");
        if (expected is double e && actual is double a)
            Assert.True(Math.Abs(e - a) <= Tolerance, $"{what}: expected {e:R}, got {a:R}");
    }
}
