using System.Numerics;
using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime;

/// <summary>
/// Which variant of the device-dependent kernels an accelerator runs, decided once per accelerator from what it reports
/// (never from an assumed 32-lane warp):
/// <list type="bullet">
/// <item><see cref="Shuffles"/>: group sums by warp shuffles (<see cref="WarpShuffleSum"/>) on CUDA and on ILGPU's CPU
/// accelerator; through a shared-memory tree (<see cref="SharedTreeSum"/>) on OpenCL, where ILGPU 1.5.3 emits shuffles
/// only as Intel's extension and fails to compile them for other vendors. Both add in the same order.</item>
/// <item><see cref="Granularity"/>: group sizes are multiples of it — the warp where shuffles need whole warps; on OpenCL
/// the size the device prefers groups to be a multiple of, where that is a power of two a tree group can hold, else 1
/// (pocl can report a "warp" as wide as its whole group).</item>
/// <item><see cref="HardwareHalf"/>: F16 weights widened by the device's half type (cvt.f32.f16 on CUDA) or by integer
/// operations on the bits (<see cref="IntegerHalf"/>) where the device has no fp16.</item>
/// </list>
/// </summary>
public sealed record AcceleratorPlan(bool Shuffles, int Granularity, int MaxGroupSize, bool HardwareHalf)
{
    /// <summary>The plan of <paramref name="accelerator"/>; a warp the shuffle sums cannot use is refused with the reason.</summary>
    public static AcceleratorPlan For(Accelerator accelerator)
    {
        int warp = accelerator.WarpSize, maxThreads = accelerator.MaxNumThreadsPerGroup;
        if (accelerator is CLAccelerator cl)
        {
            int granularity = warp > 0 && BitOperations.IsPow2(warp) && warp <= Math.Min(SharedTreeSum.MaxGroupSize, maxThreads) ? warp : 1;
            return new(false, granularity, Math.Min(SharedTreeSum.MaxGroupSize, maxThreads), cl.Capabilities.Float16);
        }
        if (warp <= 0 || !BitOperations.IsPow2(warp) || warp > maxThreads)
            throw new NotSupportedException(
                $"{accelerator.Name}: a warp of {warp} lanes (up to {maxThreads} threads per group); the group sums need a power of two no wider than a group");
        int maxGroup = Math.Min(maxThreads, GroupReductions.MaxWarpsPerGroup * warp);
        if (warp >= GroupReductions.TwoLevelWarpSize) maxGroup = Math.Min(maxGroup, warp * warp);   // no fold there (WarpShuffleSum)
        return new(true, warp, maxGroup, true);
    }

    /// <summary>The largest group no larger than <paramref name="preferred"/> and the device allow, in whole granules.</summary>
    public int Cap(int preferred) => Math.Max(Granularity, Math.Min(preferred, MaxGroupSize) / Granularity * Granularity);

    /// <summary><paramref name="n"/> rounded up to whole granules.</summary>
    public int RoundUp(int n) => (n + Granularity - 1) / Granularity * Granularity;

    /// <summary>Fails with a clear message where <paramref name="groupSize"/> threads cannot run <paramref name="kernel"/> here.</summary>
    public void CheckGroup(int groupSize, string kernel)
    {
        if (groupSize <= 0 || groupSize % Granularity != 0 || groupSize > MaxGroupSize)
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize,
                $"{kernel}: a group of {groupSize} threads cannot run here: it must be a multiple of {Granularity} "
                + $"({(Shuffles ? "the warp" : "the device's preferred multiple")}) and at most {MaxGroupSize}");
    }

    /// <summary>How group sums run, for `engine info`.</summary>
    public string Describe() => Shuffles
        ? $"group sums by warp shuffles, groups of {Granularity}·k ≤ {MaxGroupSize}"
        : $"group sums through shared memory (no shuffles), groups of {Granularity}·k ≤ {MaxGroupSize}";
}
