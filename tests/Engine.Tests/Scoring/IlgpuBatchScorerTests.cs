using ILGPU.Runtime;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Scoring;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Scoring;

/// <summary>
/// The device scorer on ILGPU's CPU accelerator (warp 4; one test with 32-lane warps) against the managed
/// <see cref="CpuBatchScorer"/>. Tolerance: 1e-6 absolute on every score, and the same scores null.
/// </summary>
public abstract class IlgpuBatchScorerChecks(IAcceleratorFixture fx) : IDisposable
{
    protected Accelerator Accelerator => fx.Accelerator;

    private const double Tolerance = 1e-6;
    private IlgpuBatchScorer? _scorerLazy;
    protected IlgpuBatchScorer Scorer => _scorerLazy ??= new(fx.Accelerator);

    public void Dispose() => _scorerLazy?.Dispose();

    [Fact]
    public void HandCheckableNeuronScoresAsInTheReference()
    {
        var builder = new ScoringBatchBuilder();
        builder.AddNeuron([ScoreCalculatorTests.First, ScoreCalculatorTests.Second], topSequenceCount: 1);
        var batch = builder.Build();
        var results = Scorer.Score(batch);

        Assert.Equal(3, results.Length);
        var all = results[ScoringBatch.ResultIndex(0, ScoreVariant.TopAndRandom)];
        Assert.Equal(0.99014, all.EvCorrelation!.Value, 1e-5);
        Assert.Equal(-10.5634, all.RSquared!.Value, 1e-4);
        Assert.Equal(-1.92308, all.AbsoluteDevExplained!.Value, 1e-5);

        // Top only: true [0, 0.5, 2] / sim [0, 1, 9]; R² = 1 − 49.25/4.25, abs dev = 1 − 7.5/2.5.
        var top = results[ScoringBatch.ResultIndex(0, ScoreVariant.TopOnly)];
        Assert.Equal(0.99007, top.EvCorrelation!.Value, 1e-5);
        Assert.Equal(1 - 49.25 / 4.25, top.RSquared!.Value, 1e-6);
        Assert.Equal(-2.0, top.AbsoluteDevExplained!.Value, 1e-6);

        // Random only: true [0.1, 0, 0] / sim [0, 0, 0]: constant simulation, R² = 1 − 0.01/0.01, abs dev = 1 − 0.1/0.1.
        var random = results[ScoringBatch.ResultIndex(0, ScoreVariant.RandomOnly)];
        Assert.Null(random.EvCorrelation);
        Assert.Equal(0.0, random.RSquared!.Value, 1e-6);
        Assert.Equal(0.0, random.AbsoluteDevExplained!.Value, 1e-6);

        AssertMatchesCpu(batch, results);
    }

    [Fact]
    public void ConstantSidesGiveNullCorrelation()
    {
        var builder = new ScoringBatchBuilder();
        // Each half constant at the same true value: the merged range is constant too.
        builder.AddNeuron([new([0.1, 0.1, 0.1], [1, 2, 3]), new([0.1, 0.1], [4, 5])], topSequenceCount: 1);
        // Constant simulation across both halves.
        builder.AddNeuron([new([0, 2, 5], [3, 3, 3]), new([1, 4], [3, 3])], topSequenceCount: 1);
        // A value whose mean rounds (0.1 × 7): exact min == max, not a tiny variance.
        builder.AddNeuron([new([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0, 1, 2, 3, 4, 5, 6])], topSequenceCount: 1);
        // Dead neuron: all true activations 0 → every score null.
        builder.AddNeuron([new([0, 0, 0], [1, 2, 3]), new([0, 0], [0, 1])], topSequenceCount: 1);
        var batch = builder.Build();
        var results = Scorer.Score(batch);

        for (int neuron = 0; neuron < 4; neuron++)
            foreach (var variant in Enum.GetValues<ScoreVariant>())
                Assert.Null(results[ScoringBatch.ResultIndex(neuron, variant)].EvCorrelation);
        Assert.NotNull(results[ScoringBatch.ResultIndex(0, ScoreVariant.TopAndRandom)].RSquared);
        Assert.Equal(ScoreTriple.Undefined, results[ScoringBatch.ResultIndex(3, ScoreVariant.TopAndRandom)]);
        AssertMatchesCpu(batch, results);
    }

    [Fact]
    public void EmptyNeuronsAndEmptyRangesAreUndefined()
    {
        var builder = new ScoringBatchBuilder();
        builder.AddNeuron([], topSequenceCount: 0);                                               // no tokens at all
        builder.AddNeuron([new([0, 1, 2], [0, 2, 5])], topSequenceCount: 0);                      // top = 0
        builder.AddNeuron([new([0, 1, 2], [0, 2, 5]), new([3, 1], [6, 1])], topSequenceCount: 2); // top = all
        builder.AddNeuron([new([], []), new([1, 2], [1, 3])], topSequenceCount: 1);               // empty top sequence
        var batch = builder.Build();
        var results = Scorer.Score(batch);

        Assert.All(Enum.GetValues<ScoreVariant>(), v => Assert.Equal(ScoreTriple.Undefined, results[ScoringBatch.ResultIndex(0, v)]));
        Assert.Equal(ScoreTriple.Undefined, results[ScoringBatch.ResultIndex(1, ScoreVariant.TopOnly)]);
        Assert.Equal(results[ScoringBatch.ResultIndex(1, ScoreVariant.TopAndRandom)], results[ScoringBatch.ResultIndex(1, ScoreVariant.RandomOnly)]);
        Assert.NotNull(results[ScoringBatch.ResultIndex(1, ScoreVariant.RandomOnly)].EvCorrelation);
        Assert.Equal(ScoreTriple.Undefined, results[ScoringBatch.ResultIndex(2, ScoreVariant.RandomOnly)]);
        Assert.Equal(results[ScoringBatch.ResultIndex(2, ScoreVariant.TopAndRandom)], results[ScoringBatch.ResultIndex(2, ScoreVariant.TopOnly)]);
        Assert.Equal(ScoreTriple.Undefined, results[ScoringBatch.ResultIndex(3, ScoreVariant.TopOnly)]);
        AssertMatchesCpu(batch, results);

        Assert.Empty(Scorer.Score(new ScoringBatch(Array.Empty<float>(), [], [0], [])));
        var noTokens = Scorer.Score(new ScoringBatch(Array.Empty<float>(), [], [0, 0, 0], [0, 0]));
        Assert.All(noTokens, s => Assert.Equal(ScoreTriple.Undefined, s));
    }

    [Fact]
    public void NonFiniteInputsGiveNullScores()
    {
        var batch = new ScoringBatch(
            [1f, float.NaN, 3f, 1f, 2f, 4f, float.PositiveInfinity, 1f],
            [1f, 2f, 3f, 1f, float.NaN, 4f, 1f, 2f],
            [0, 3, 6, 8], [3, 3, 1]);
        var results = Scorer.Score(batch);
        Assert.Equal(ScoreTriple.Undefined, results[ScoringBatch.ResultIndex(0, ScoreVariant.TopAndRandom)]);
        Assert.Null(results[ScoringBatch.ResultIndex(1, ScoreVariant.TopAndRandom)].EvCorrelation);
        Assert.Null(results[ScoringBatch.ResultIndex(1, ScoreVariant.TopAndRandom)].RSquared);
        Assert.Equal(ScoreTriple.Undefined, results[ScoringBatch.ResultIndex(2, ScoreVariant.TopOnly)]);
        AssertMatchesCpu(batch, results);
    }

    [Fact]
    public void MatchesCpuScorerOnThousandsOfRandomNeurons()
    {
        var random = new Random(20240611);
        var builder = new ScoringBatchBuilder();
        for (int i = 0; i < 3000; i++)
        {
            var (sequences, top) = CpuBatchScorerTests.RandomNeuron(random);
            builder.AddNeuron(sequences, top);
        }
        var batch = builder.Build();
        int defined = AssertMatchesCpu(batch, Scorer.Score(batch));
        // Both defined and undefined correlations must occur, or the comparison proves little.
        Assert.InRange(defined, 3000, 3 * 3000 - 300);
    }

    [Fact]
    public void LargeOffsetsAndTinySpreadsKeepTheirCorrelation()
    {
        // Values around 1000 with spreads of 1e-3 (and one neuron with a far outlier first): the shifted sums must
        // not cancel. Compared with the CPU scorer's two-pass sums.
        var random = new Random(5);
        int neurons = 200;
        var offsets = new int[neurons + 1];
        var top = new int[neurons];
        var t = new List<float>();
        var p = new List<float>();
        for (int n = 0; n < neurons; n++)
        {
            int length = random.Next(2, 300);
            double baseT = n % 2 == 0 ? 1000 : -250, baseP = n % 3 == 0 ? 5000 : 3;
            for (int i = 0; i < length; i++)
            {
                double noise = random.NextDouble();
                t.Add((float)(baseT + noise * 1e-3 + (n % 5 == 0 && i == 0 ? 1e4 : 0)));
                p.Add((float)(baseP + (noise + random.NextDouble() * 0.3) * 1e-3 * (1 + n % 7)));
            }
            offsets[n + 1] = t.Count;
            top[n] = random.Next(0, length + 1);
        }
        var batch = new ScoringBatch([.. t], [.. p], offsets, top);
        Assert.True(AssertMatchesCpu(batch, Scorer.Score(batch)) > neurons);
    }

    [Fact]
    public void BuffersAreReusedAcrossBatchesOfDifferentSizes()
    {
        var random = new Random(11);
        ScoringBatch RandomBatch(int neurons)
        {
            var builder = new ScoringBatchBuilder();
            for (int i = 0; i < neurons; i++)
            {
                var (sequences, topCount) = CpuBatchScorerTests.RandomNeuron(random);
                builder.AddNeuron(sequences, topCount);
            }
            return builder.Build();
        }
        using var scorer = new IlgpuBatchScorer(fx.Accelerator);
        foreach (int neurons in new[] { 40, 300, 7, 300, 1 })
        {
            var batch = RandomBatch(neurons);
            AssertMatchesCpu(batch, scorer.Score(batch)); // a smaller batch in bigger buffers, then growth
        }
    }

    /// <summary>Compares every score with the CPU scorer; returns how many correlations are defined.</summary>
    internal static int AssertMatchesCpu(ScoringBatch batch, ScoreTriple[] actual)
    {
        // The device holds float values: compare with the CPU scorer on the same floats, not on the values as read.
        var onFloats = new ScoringBatch(batch.TrueActivations, batch.ExpectedActivations, batch.NeuronOffsets, batch.TopTokenCounts);
        var expected = new CpuBatchScorer().Score(onFloats);
        Assert.Equal(expected.Length, actual.Length);
        int defined = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            string what = $"neuron {i / 3} {(ScoreVariant)(i % 3)}";
            AssertClose(expected[i].EvCorrelation, actual[i].EvCorrelation, $"{what} correlation");
            AssertClose(expected[i].RSquared, actual[i].RSquared, $"{what} R²");
            AssertClose(expected[i].AbsoluteDevExplained, actual[i].AbsoluteDevExplained, $"{what} abs dev");
            if (expected[i].EvCorrelation is not null) defined++;
        }
        return defined;
    }

    private static void AssertClose(double? expected, double? actual, string what)
    {
        Assert.True(expected.HasValue == actual.HasValue, $"{what}: expected {expected}, got {actual}");
        if (expected is double e && actual is double a)
            Assert.True(Math.Abs(e - a) <= Tolerance, $"{what}: expected {e:R}, got {a:R}");
    }
}

/// <summary>On ILGPU's CPU accelerator, plus what only it can check (PTX, other warp sizes, CUDA where present).</summary>
public sealed class IlgpuBatchScorerTests(CpuAcceleratorFixture fx) : IlgpuBatchScorerChecks(fx), IClassFixture<CpuAcceleratorFixture>
{
    [Fact]
    public void ThirtyTwoLaneWarpsMatchTheCpuScorer()
    {
        var (context, accelerator) = IlgpuContexts.CreateCpu(warpSize: 32, warpsPerGroup: 8);
        try
        {
            using var scorer = new IlgpuBatchScorer(accelerator);
            Assert.Equal(128, scorer.ThreadsPerGroup);
            var random = new Random(3);
            var builder = new ScoringBatchBuilder();
            for (int i = 0; i < 150; i++)
            {
                var (sequences, top) = CpuBatchScorerTests.RandomNeuron(random);
                builder.AddNeuron(sequences, top);
            }
            builder.AddNeuron([ScoreCalculatorTests.First, ScoreCalculatorTests.Second], topSequenceCount: 1);
            var batch = builder.Build();
            AssertMatchesCpu(batch, scorer.Score(batch));
        }
        finally
        {
            accelerator.Dispose();
            context.Dispose();
        }
    }

    [Fact]
    public void KernelCompilesToPtx()
    {
        using var ptx = new PtxCompiler();
        foreach (var kernel in new[] { KernelCatalog.ScoringStatistics, KernelCatalog.ScoringStatisticsTree })
        {
            var asm = ptx.Compile(kernel);
            Assert.Contains(".entry", asm);
            Assert.Contains(".f64", asm); // double-precision accumulation on the device
        }
    }
}

/// <summary>On the OpenCL device (pocl in CI: scripts/opencl-tests.sh), same cases and tolerances.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public sealed class IlgpuBatchScorerOpenClTests(OpenClAcceleratorFixture fx) : IlgpuBatchScorerChecks(fx), IClassFixture<OpenClAcceleratorFixture>;
