using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;
using NeuronEngine.Scoring;

namespace NeuronEngine.Runtime.Scoring;

/// <summary>
/// The batched scorer on an ILGPU accelerator (CUDA for real work; ILGPU's CPU accelerator in tests).
/// <see cref="Score"/> uploads the batch's four flat arrays (one copy each, into device buffers that are kept and
/// reused while they are large enough), runs <see cref="ScoringKernel.Statistics"/> (one warp per neuron: the
/// double-precision sufficient statistics of its top and random ranges), downloads them and forms the scores on the
/// host with exactly the null rules of <see cref="CpuBatchScorer"/> / <see cref="ScoreCalculator"/>.
/// Agrees with <see cref="CpuBatchScorer"/> to ~1e-10 (tested to 1e-6 absolute per score).
/// Not thread-safe per call order: concurrent <see cref="Score"/> calls are serialised (they share the buffers).
/// The accelerator stays the caller's; <see cref="Dispose"/> frees only this scorer's device buffers.
/// </summary>
public sealed class IlgpuBatchScorer : IBatchScorer, IDisposable
{
    /// <summary>Threads per group (<see cref="ScoringKernel.DefaultThreadsPerGroup"/>).</summary>
    public const int DefaultThreadsPerGroup = ScoringKernel.DefaultThreadsPerGroup;

    // Dynamic shared memory is capped at 48 KB per group in ILGPU 1.5.3.
    private const int MaxSharedBytes = 48 * 1024;
    // Below this many neurons the host finishes the scores on the calling thread.
    private const int NeuronsPerHostWorkItem = 8192;

    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>,
        ArrayView<double>, int> _kernel;
    private readonly int _threadsPerGroup;
    private readonly int _neuronsPerGroup;
    private readonly Lock _gate = new();
    private MemoryBuffer1D<float, Stride1D.Dense>? _true, _expected;
    private MemoryBuffer1D<int, Stride1D.Dense>? _offsets, _topCounts;
    private MemoryBuffer1D<double, Stride1D.Dense>? _stats;
    private double[] _hostStats = [];
    private bool _disposed;

    public IlgpuBatchScorer(Accelerator accelerator) : this(accelerator, DefaultThreadsPerGroup) { }

    /// <param name="accelerator">Where to score; owned by the caller.</param>
    /// <param name="threadsPerGroup">
    /// Threads per group, rounded down to whole warps (at least one warp) and capped by the device and by the 48 KB of
    /// dynamic shared memory; each warp scores one neuron.
    /// </param>
    public IlgpuBatchScorer(Accelerator accelerator, int threadsPerGroup)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentOutOfRangeException.ThrowIfLessThan(threadsPerGroup, 1);
        _accelerator = accelerator;
        // A neuron's lanes: a warp where the device has warp operations, else SharedTreeSum's fixed 32 (AcceleratorPlan).
        var plan = AcceleratorPlan.For(accelerator);
        int lanes = plan.Shuffles ? accelerator.WarpSize : SharedTreeSum.LanesPerItem;
        int maxThreads = Math.Min(accelerator.MaxNumThreadsPerGroup, MaxSharedBytes / (ScoringKernel.SharedRowStride * sizeof(double)));
        if (lanes > maxThreads)
            throw new NotSupportedException($"{accelerator.Name}: the scorer gives a neuron {lanes} threads; this device allows {maxThreads} per group");
        int warps = Math.Max(1, Math.Min(threadsPerGroup, maxThreads) / lanes);
        _threadsPerGroup = warps * lanes;
        _neuronsPerGroup = warps;
        _kernel = (plan.Shuffles ? KernelCatalog.ScoringStatistics : KernelCatalog.ScoringStatisticsTree).Load(accelerator);
    }

    public Accelerator Accelerator => _accelerator;

    /// <summary>Threads per group actually launched (whole warps; one neuron per warp).</summary>
    public int ThreadsPerGroup => _threadsPerGroup;

    public ScoreTriple[] Score(ScoringBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int neurons = batch.NeuronCount;
        var results = new ScoreTriple[neurons * ScoringBatch.VariantsPerNeuron];
        if (neurons == 0) return results;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int tokens = batch.TokenCount;
            int statCount = checked(neurons * ScoringKernel.StatsPerNeuron);
            Ensure(ref _true, tokens);
            Ensure(ref _expected, tokens);
            Ensure(ref _offsets, neurons + 1);
            Ensure(ref _topCounts, neurons);
            Ensure(ref _stats, statCount);
            if (_hostStats.Length < statCount) _hostStats = new double[statCount];

            if (tokens > 0)
            {
                _true!.View.SubView(0, tokens).AsContiguous().CopyFromCPU(batch.TrueActivations);
                _expected!.View.SubView(0, tokens).AsContiguous().CopyFromCPU(batch.ExpectedActivations);
            }
            _offsets!.View.SubView(0, neurons + 1).AsContiguous().CopyFromCPU(batch.NeuronOffsets);
            _topCounts!.View.SubView(0, neurons).AsContiguous().CopyFromCPU(batch.TopTokenCounts);

            int groups = (neurons + _neuronsPerGroup - 1) / _neuronsPerGroup;
            var config = new KernelConfig(
                new Index1D(groups), new Index1D(_threadsPerGroup),
                SharedMemoryConfig.RequestDynamic<double>(ScoringKernel.SharedDoubles(_threadsPerGroup)));
            _kernel(_accelerator.DefaultStream, config, _true!.View, _expected!.View, _offsets.View, _topCounts.View,
                _stats!.View, neurons);
            _stats.View.SubView(0, statCount).AsContiguous().CopyToCPU(_hostStats.AsSpan(0, statCount));

            var stats = _hostStats;
            if (neurons <= NeuronsPerHostWorkItem) Finish(batch, stats, results, 0, neurons);
            else
            {
                int items = (neurons + NeuronsPerHostWorkItem - 1) / NeuronsPerHostWorkItem;
                Parallel.For(0, items, item =>
                {
                    int from = item * NeuronsPerHostWorkItem;
                    Finish(batch, stats, results, from, Math.Min(neurons, from + NeuronsPerHostWorkItem));
                });
            }
        }
        return results;
    }

    private void Ensure<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, int length) where T : unmanaged
    {
        if (buffer is not null && buffer.Length >= length) return;
        buffer?.Dispose();
        buffer = null;
        buffer = _accelerator.Allocate1D<T>(Math.Max(1, length)); // never a zero-length allocation
    }

    /// <summary>Scores of neurons [from, to) from the downloaded statistics.</summary>
    private static void Finish(ScoringBatch batch, double[] stats, ScoreTriple[] results, int from, int to)
    {
        var offsets = batch.NeuronOffsets;
        var trueActs = batch.TrueActivations;
        var expected = batch.ExpectedActivations;
        for (int neuron = from; neuron < to; neuron++)
        {
            int start = offsets[neuron], split = start + batch.TopTokenCounts[neuron], end = offsets[neuron + 1];
            int at = neuron * ScoringKernel.StatsPerNeuron;
            // The kernel's shift of a range is its first token; read the same floats here.
            var top = Range(stats, at, split - start, trueActs, expected, start);
            var random = Range(stats, at + ScoringKernel.StatsPerRange, end - split, trueActs, expected, split);
            results[ScoringBatch.ResultIndex(neuron, ScoreVariant.TopAndRandom)] = TokenRangeStatistics.Merge(top, random).ToScores();
            results[ScoringBatch.ResultIndex(neuron, ScoreVariant.TopOnly)] = top.ToScores();
            results[ScoringBatch.ResultIndex(neuron, ScoreVariant.RandomOnly)] = random.ToScores();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _true?.Dispose();
            _expected?.Dispose();
            _offsets?.Dispose();
            _topCounts?.Dispose();
            _stats?.Dispose();
        }
    }

    /// <summary>One range's statistics rebuilt from the kernel's sums, shifted by the range's first token.</summary>
    private static TokenRangeStatistics Range(double[] s, int at, int count, float[] trueActs, float[] expected, int first)
    {
        if (count == 0) return default;
        double n = count;
        double sumDt = s[at + ScoringKernel.SumDt], sumDp = s[at + ScoringKernel.SumDp];
        return new TokenRangeStatistics
        {
            Count = count,
            MeanTrue = trueActs[first] + sumDt / n,
            MeanExpected = expected[first] + sumDp / n,
            CentredSquaresTrue = s[at + ScoringKernel.SumDt2] - sumDt * sumDt / n,
            CentredSquaresExpected = s[at + ScoringKernel.SumDp2] - sumDp * sumDp / n,
            CentredCrossProducts = s[at + ScoringKernel.SumDtDp] - sumDt * sumDp / n,
            SquaredErrors = s[at + ScoringKernel.SumSquaredErrors],
            SquaresTrue = s[at + ScoringKernel.SumSquaresTrue],
            AbsoluteErrors = s[at + ScoringKernel.SumAbsoluteErrors],
            AbsolutesTrue = s[at + ScoringKernel.SumAbsolutesTrue],
            // The kernel reduces min/max of the float inputs in double: narrowing back is exact.
            MinTrue = (float)s[at + ScoringKernel.MinTrue],
            MaxTrue = (float)s[at + ScoringKernel.MaxTrue],
            MinExpected = (float)s[at + ScoringKernel.MinExpected],
            MaxExpected = (float)s[at + ScoringKernel.MaxExpected],
        };
    }
}
