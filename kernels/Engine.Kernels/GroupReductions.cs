using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// A sum over all threads of a group, returned to every thread, for kernels that give one group to one row (LayerNorm),
/// and the lanes that cooperate on one item (the scorer). Two implementations, chosen once per accelerator
/// (Runtime's GroupPlan) by loading the kernel instantiated with one or the other:
/// <see cref="WarpShuffleSum"/> (CUDA, ILGPU's CPU accelerator) and <see cref="SharedTreeSum"/> (OpenCL: ILGPU 1.5.3's
/// OpenCL backend emits warp shuffles only as Intel's extension, and fails to compile them for any other vendor).
///
/// Both add in the same order, whatever the warp size, so a LayerNorm is bit-identical on every device for the same group
/// size: the pairwise tree over the threads' values in thread order, adjacent pairs first,
///   level 1: (v0 + v1), (v2 + v3), …   level 2: ((v0 + v1) + (v2 + v3)), …   …   until one value is left,
/// with the values padded by zeros to the next power of two (x + 0 = x exactly, so padding changes nothing). A warp
/// butterfly with offsets 1, 2, 4, … computes exactly the levels inside an aligned block of warp-size threads (each lane
/// adds the same two block sums, in one order or the other, and float addition is commutative), and the warps' sums
/// continue the same tree; the shared-memory tree computes the levels one barrier each.
/// </summary>
public interface IGroupSum
{
    /// <summary>Floats of shared memory <see cref="Sum"/> needs (a constant of the implementation).</summary>
    int ScratchFloats { get; }

    /// <summary>
    /// The sum of <paramref name="value"/> over the group, to every thread; <paramref name="scratch"/> holds
    /// <see cref="ScratchFloats"/> floats of shared memory. A caller that sums twice passes a different scratch the second
    /// time (or puts a barrier between): a slow thread may still be reading the first. Every thread of the group must call.
    /// </summary>
    float Sum(float value, ArrayView<float> scratch);

    /// <summary>Threads that cooperate on one item (the scorer gives a neuron to them).</summary>
    int Lanes { get; }

    /// <summary>This thread's index among its <see cref="Lanes"/>.</summary>
    int LaneIndex { get; }

    /// <summary>Makes the shared-memory writes of the item's lanes visible to each other.</summary>
    void LaneBarrier();
}

/// <summary>Constants of the group sums that host code checks launches against.</summary>
public static class GroupReductions
{
    /// <summary>Most warps a group may have with <see cref="WarpShuffleSum"/>: 1024 threads / 32 on CUDA, 256 / 4 on the test CPU accelerator.</summary>
    public const int MaxWarpsPerGroup = 64;

    /// <summary>
    /// Warps of at least this many lanes sum up to warp² threads (≥ 1024, CUDA's largest group) in two butterflies, so
    /// for them the fold of <see cref="WarpShuffleSum"/> is compiled out (the warp size is a constant in PTX): CUDA's
    /// kernel is the plain two-level sum. Groups on such warps are limited to warp² threads.
    /// </summary>
    public const int TwoLevelWarpSize = 32;

    /// <summary>
    /// Butterfly (xor) sum over the warp with offsets 1, 2, 4, …: after log2(warp) steps every lane holds the pairwise sum
    /// of the warp's values (see <see cref="IGroupSum"/> for the order).
    /// </summary>
    public static float WarpSum(float value)
    {
        for (int offset = 1; offset < Warp.WarpSize; offset <<= 1)
            value += Warp.ShuffleXor(value, offset);
        return value;
    }
}

/// <summary>
/// Group sums by warp shuffles. Each warp reduces its values; lane 0 parks the warp's sum in shared memory; one barrier;
/// then every warp reads the warp sums and reduces them itself, so all threads end with the same value without a second
/// barrier. Where a group has more warps than a warp has lanes (only the CPU emulator's 4-lane warps), the warp sums are
/// first folded in blocks of a warp, in place, two barriers per level, which continues the same pairwise tree. The group size must
/// be a multiple of the warp size (a partial warp would shuffle in lanes that do not exist), the warp a power of two.
/// </summary>
public struct WarpShuffleSum : IGroupSum
{
    /// <summary>One float per warp (the levels above the first fold in place).</summary>
    public readonly int ScratchFloats => GroupReductions.MaxWarpsPerGroup;

    public readonly float Sum(float value, ArrayView<float> scratch)
    {
        int warp = Warp.WarpSize, lane = Warp.LaneIdx, warpIdx = Warp.WarpIdx;
        value = GroupReductions.WarpSum(value);
        if (lane == 0) scratch[warpIdx] = value;
        Group.Barrier();
        int count = Group.DimX / warp;
        while (warp < GroupReductions.TwoLevelWarpSize && count > warp)
        {
            int blocks = (count + warp - 1) / warp, at = warpIdx * warp + lane;
            float partial = GroupReductions.WarpSum(warpIdx < blocks && at < count ? scratch[at] : 0f);
            Group.Barrier();                                    // every read of this level is done before the writes
            if (lane == 0 && warpIdx < blocks) scratch[warpIdx] = partial;
            Group.Barrier();
            count = blocks;
        }
        return GroupReductions.WarpSum(lane < count ? scratch[lane] : 0f);
    }

    public readonly int Lanes => Warp.WarpSize;

    public readonly int LaneIndex => Warp.LaneIdx;

    public readonly void LaneBarrier() => Warp.Barrier();
}

/// <summary>
/// Group sums through shared memory with barriers only (no warps, no shuffles): for devices that cannot shuffle. The
/// values (zero-padded to a power of two) are summed level by level, s[2^(k+1)·j] += s[2^(k+1)·j + 2^k], one barrier per
/// level: the pairwise order of <see cref="IGroupSum"/>. Groups of up to <see cref="MaxGroupSize"/> threads, any size.
/// </summary>
public struct SharedTreeSum : IGroupSum
{
    /// <summary>Largest group (and the scratch, in floats: one per padded thread).</summary>
    public const int MaxGroupSize = 256;

    /// <summary>Threads per item for the scorer on such devices: fixed, independent of any sub-group size.</summary>
    public const int LanesPerItem = 32;

    public readonly int ScratchFloats => MaxGroupSize;

    public readonly float Sum(float value, ArrayView<float> scratch)
    {
        int tid = Group.IdxX, threads = Group.DimX;
        int padded = 1;
        while (padded < threads) padded <<= 1;
        scratch[tid] = value;
        if (threads + tid < padded) scratch[threads + tid] = 0f;   // padded < 2·threads: one pad per thread at most
        Group.Barrier();
        for (int stride = 1; stride < padded; stride <<= 1)
        {
            int pairs = padded / (2 * stride);
            for (int j = tid; j < pairs; j += threads)
            {
                int at = 2 * stride * j;
                scratch[at] += scratch[at + stride];
            }
            Group.Barrier();
        }
        return scratch[0];
    }

    public readonly int Lanes => LanesPerItem;

    public readonly int LaneIndex => Group.IdxX % LanesPerItem;

    public readonly void LaneBarrier() => Group.Barrier();
}
