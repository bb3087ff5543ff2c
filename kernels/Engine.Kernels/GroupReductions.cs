using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// Sums across a warp and across a group, for kernels that give one group to one row (LayerNorm). Written here
/// rather than taken from ILGPU.Algorithms so they need no <c>EnableAlgorithms()</c> on the context and so their
/// order of additions is known: every thread of the group gets the bit-identical total.
/// The warp size is <see cref="Warp.WarpSize"/> (32 on CUDA, 4 on the test CPU accelerator), never a constant.
/// </summary>
public static class GroupReductions
{
    /// <summary>Most warps a group may have: 1024 threads / 32 on CUDA, 256 / 4 on the test CPU accelerator.</summary>
    public const int MaxWarpsPerGroup = 64;

    /// <summary>
    /// Butterfly (xor) sum over the warp: after log2(warp) steps every lane holds the same total, because each step
    /// adds the same two partial sums in either order (float addition is commutative), so no broadcast is needed.
    /// </summary>
    public static float WarpSum(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
            value += Warp.ShuffleXor(value, offset);
        return value;
    }

    /// <summary>
    /// Sum over the whole group, returned to every thread. Each warp reduces its values, lane 0 parks the warp's sum
    /// in <paramref name="scratch"/> (≥ warps-per-group floats of shared memory), one barrier, then every warp reads
    /// all the warp sums and reduces them itself, in the same order, so all threads end with the same value without
    /// a second barrier. The group size must be a multiple of the warp size (a partial warp would shuffle in lanes
    /// that do not exist). A caller that reduces twice must pass a different scratch the second time (or put a
    /// barrier in between): a slow warp may still be reading the first sums.
    /// </summary>
    public static float GroupSum(float value, ArrayView<float> scratch)
    {
        value = WarpSum(value);
        if (Warp.LaneIdx == 0) scratch[Warp.WarpIdx] = value;
        Group.Barrier();
        int warps = Group.DimX / Warp.WarpSize;
        float total = 0;
        for (int w = Warp.LaneIdx; w < warps; w += Warp.WarpSize) total += scratch[w];
        return WarpSum(total);
    }
}
