using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// Device half of the batched scorer (docs/design.md §5): per neuron, the sufficient statistics of OpenAI's three scores
/// for its top range and its random range; the host turns them into scores (the top-and-random variant is the
/// pairwise merge of the two ranges).
/// </summary>
/// <remarks>
/// Scores (over a range's tokens concatenated, t = true, p = expected activation, n tokens):
///   ev_correlation = Ctp / √(Ctt·Cpp), clamped to [-1, 1]     (null: n = 0, or min t = max t, or min p = max p)
///   rsquared       = 1 − Σ(t−p)² / Σt²                          (null: n = 0 or Σt² = 0)
///   absolute_dev   = 1 − Σ|t−p| / Σ|t|                          (null: n = 0 or Σ|t| = 0)
/// with the centred sums Ctt = Σ(t−t̄)², Cpp = Σ(p−p̄)², Ctp = Σ(t−t̄)(p−p̄).
///
/// Accumulation: every value is widened to double and every sum is a double. The centred sums come from a
/// shifted single pass: with Kt, Kp the range's FIRST token (a data point of the range, read by every lane),
/// dt = t − Kt, dp = p − Kp, the kernel sums Σdt, Σdp, Σdt², Σdp², Σdt·dp and the host forms
///   Ctt = Σdt² − (Σdt)²/n,  Cpp = Σdp² − (Σdp)²/n,  Ctp = Σdt·dp − Σdt·Σdp/n,  t̄ = Kt + Σdt/n.
/// Because the shift is a point of the range, (t̄ − Kt)² ≤ Ctt, so the cancellation costs at most a factor ~n of
/// the double rounding (relative error ≲ n²·2⁻⁵³ ≈ 1e-10 at n = 1000), and a constant range gives exactly 0.
/// Each range has its own shift (a shift from another range would cancel catastrophically).
/// The ratio scores use plain sums (Σ(t−p)², Σt², Σ|t−p|, Σ|t|) exactly as the CPU reference does, and min/max of
/// t and p per range make the "constant side" test exact (min == max), as in the reference.
///
/// Layout: one warp per neuron (lanes stride over the tokens, so loads are coalesced), several warps per group; on devices
/// without warp operations (<see cref="SharedTreeSum"/>) 32 threads take a warp's place and the barrier is the group's.
/// Each lane keeps its 2 × 13 partial statistics in registers, writes them to its row of dynamic shared memory,
/// and after one warp barrier lane j reduces statistic j (j, j + warp, …) over the warp's rows and stores it:
/// one barrier instead of a shuffle tree per statistic (cheap on the CPU emulator too).
/// </remarks>
public static class ScoringKernel
{
    /// <summary>Statistics per range, in this order (see <see cref="StatsPerNeuron"/> for the output layout).</summary>
    public const int SumDt = 0, SumDp = 1, SumDt2 = 2, SumDp2 = 3, SumDtDp = 4, SumSquaredErrors = 5, SumSquaresTrue = 6,
        SumAbsoluteErrors = 7, SumAbsolutesTrue = 8, MinTrue = 9, MaxTrue = 10, MinExpected = 11, MaxExpected = 12;

    /// <summary>Statistics per token range.</summary>
    public const int StatsPerRange = 13;

    /// <summary>
    /// Doubles per neuron in the output: the top range's statistics at [0, 13), the random range's at [13, 26).
    /// An empty range has zero sums, +∞ minima and −∞ maxima.
    /// </summary>
    public const int StatsPerNeuron = 2 * StatsPerRange;

    /// <summary>Shared-memory row per lane, padded to an odd number of doubles (no bank conflicts on the writes).</summary>
    public const int SharedRowStride = StatsPerNeuron + 1;

    /// <summary>Threads per group: 4 warps of 32 on CUDA (27 KB of shared memory), 32 warps of 4 on the CPU emulator.</summary>
    public const int DefaultThreadsPerGroup = 128;

    /// <summary>Dynamic shared memory a group of <paramref name="threadsPerGroup"/> threads needs, in doubles.</summary>
    public static int SharedDoubles(int threadsPerGroup) => threadsPerGroup * SharedRowStride;

    /// <summary>
    /// Launch with explicit groups whose size is a multiple of the warp size, grid = ⌈neurons / warps per group⌉, and
    /// <see cref="SharedDoubles"/> doubles of dynamic shared memory. Neuron i owns tokens [offsets[i], offsets[i+1]);
    /// the first topCounts[i] of them are its top range, the rest its random range. Writes
    /// stats[i·<see cref="StatsPerNeuron"/> + r·<see cref="StatsPerRange"/> + k].
    /// </summary>
    public static void Statistics<TLanes>(
        ArrayView<float> trueActs, ArrayView<float> expected, ArrayView<int> offsets, ArrayView<int> topCounts,
        ArrayView<double> stats, int neuronCount) where TLanes : struct, IGroupSum
    {
        int warpSize = default(TLanes).Lanes;
        int lane = default(TLanes).LaneIndex;
        int warpInGroup = Group.IdxX / warpSize;
        int neuron = Grid.IdxX * (Group.DimX / warpSize) + warpInGroup;
        // Lanes past the last neuron do no work but still reach the barrier: on devices without warps it is the group's.
        bool active = neuron < neuronCount;

        var shared = SharedMemory.GetDynamic<double>();
        int row = (warpInGroup * warpSize + lane) * SharedRowStride;
        if (active)
        {
            int start = offsets[neuron];
            int split = start + topCounts[neuron];
            int end = offsets[neuron + 1];
            AccumulateRange(trueActs, expected, start, split, lane, warpSize, shared, row);
            AccumulateRange(trueActs, expected, split, end, lane, warpSize, shared, row + StatsPerRange);
        }
        default(TLanes).LaneBarrier();
        if (!active) return;

        int rows = warpInGroup * warpSize * SharedRowStride;
        long output = (long)neuron * StatsPerNeuron;
        for (int s = lane; s < StatsPerNeuron; s += warpSize)
        {
            // Branch-free over the lanes' rows: sum, min and max all at once, the right one kept at the end.
            double first = shared[rows + s];
            double sum = first, min = first, max = first;
            for (int other = 1; other < warpSize; other++)
            {
                double v = shared[rows + other * SharedRowStride + s];
                sum += v;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
            int k = s % StatsPerRange;
            stats[output + s] = k == MinTrue || k == MinExpected ? min : k == MaxTrue || k == MaxExpected ? max : sum;
        }
    }

    /// <summary>One lane's share (tokens from + lane, from + lane + warp, …) of one range, stored at shared[at..at+13).</summary>
    private static void AccumulateRange(
        ArrayView<float> trueActs, ArrayView<float> expected, int from, int to, int lane, int warpSize,
        ArrayView<double> shared, int at)
    {
        double sumDt = 0, sumDp = 0, sumDt2 = 0, sumDp2 = 0, sumDtDp = 0;
        double squaredErrors = 0, squaresTrue = 0, absoluteErrors = 0, absolutesTrue = 0;
        float minT = float.PositiveInfinity, maxT = float.NegativeInfinity;
        float minP = float.PositiveInfinity, maxP = float.NegativeInfinity;
        if (from < to)
        {
            double shiftT = trueActs[from], shiftP = expected[from];
            for (int i = from + lane; i < to; i += warpSize)
            {
                float tf = trueActs[i], pf = expected[i];
                minT = Math.Min(minT, tf);
                maxT = Math.Max(maxT, tf);
                minP = Math.Min(minP, pf);
                maxP = Math.Max(maxP, pf);
                double t = tf, p = pf;
                double dt = t - shiftT, dp = p - shiftP, err = t - p;
                sumDt += dt;
                sumDp += dp;
                sumDt2 += dt * dt;
                sumDp2 += dp * dp;
                sumDtDp += dt * dp;
                squaredErrors += err * err;
                squaresTrue += t * t;
                absoluteErrors += Math.Abs(err);
                absolutesTrue += Math.Abs(t);
            }
        }
        shared[at + SumDt] = sumDt;
        shared[at + SumDp] = sumDp;
        shared[at + SumDt2] = sumDt2;
        shared[at + SumDp2] = sumDp2;
        shared[at + SumDtDp] = sumDtDp;
        shared[at + SumSquaredErrors] = squaredErrors;
        shared[at + SumSquaresTrue] = squaresTrue;
        shared[at + SumAbsoluteErrors] = absoluteErrors;
        shared[at + SumAbsolutesTrue] = absolutesTrue;
        shared[at + MinTrue] = minT;
        shared[at + MaxTrue] = maxT;
        shared[at + MinExpected] = minP;
        shared[at + MaxExpected] = maxP;
    }
}
