using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime.Ops;

/// <summary>
/// Host side of <see cref="AttentionKernel"/>: causal multi-head attention from qkv [batch·seqLen, 3d] into
/// output [batch·seqLen, d]. Chooses the query/key tile from the head size and the shared memory available.
/// </summary>
public sealed class AttentionOp
{
    /// <summary>Largest tile: 32 queries × 32 keys; at dh = 64 the group's shared memory is 37.5 KB.</summary>
    internal const int MaxTile = 32;

    /// <summary>Threads per group on a real GPU: 4 warps, 8 scores and 16 output elements each at tile 32, dh 64.</summary>
    internal const int PreferredGroupSize = 128;

    /// <summary>ILGPU 1.5.3 never raises CUDA's dynamic shared-memory attribute, so 48 KB is the ceiling per group.</summary>
    private const int MaxDynamicSharedBytes = 48 * 1024;

    private readonly Accelerator _accelerator;
    private readonly AcceleratorPlan _plan;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, AttentionShape> _kernel;

    public AttentionOp(Accelerator a)
    {
        _accelerator = a;
        _plan = AcceleratorPlan.For(a);
        _kernel = KernelCatalog.Attention.Load(a);
    }

    /// <summary>Launches asynchronously on <paramref name="s"/>; views may be longer than needed; output must not alias qkv.</summary>
    public void Launch(AcceleratorStream s, ArrayView<float> qkv, ArrayView<float> output, int batch, int seqLen, int d, int heads)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        int tile = DefaultTile(seqLen, d / heads);
        Launch(s, qkv, output, batch, seqLen, d, heads, tile, DefaultGroupSize(tile, d / heads));
    }

    /// <summary>The largest power-of-two tile ≤ 32 whose shared memory fits, no larger than T needs.</summary>
    internal int DefaultTile(int seqLen, int headDim)
    {
        long budget = Math.Min(_accelerator.MaxSharedMemoryPerGroup, MaxDynamicSharedBytes);
        int tile = MaxTile;
        while (tile > 1 && tile / 2 >= seqLen) tile /= 2;
        while (tile > 1 && (long)AttentionShape.SharedFloats(tile, headDim) * sizeof(float) > budget) tile /= 2;
        return tile;
    }

    /// <summary>Up to <see cref="PreferredGroupSize"/> threads, no more than one per output element of the tile.</summary>
    internal int DefaultGroupSize(int tile, int headDim) => Math.Min(_plan.Cap(PreferredGroupSize), _plan.RoundUp(tile * headDim));

    /// <summary>Launch with an explicit tile and group size (tests use small ones so T is ragged against the tile).</summary>
    internal void Launch(AcceleratorStream s, ArrayView<float> qkv, ArrayView<float> output, int batch, int seqLen, int d, int heads,
        int tile, int groupSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(seqLen);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tile);
        if (d % heads != 0) throw new ArgumentException($"d = {d} is not a multiple of heads = {heads}");
        if (groupSize <= 0 || groupSize > _accelerator.MaxNumThreadsPerGroup)
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, $"attention: a group of {groupSize} threads cannot run here (at most {_accelerator.MaxNumThreadsPerGroup})");
        int headDim = d / heads;
        int sharedFloats = AttentionShape.SharedFloats(tile, headDim);
        if ((long)sharedFloats * sizeof(float) > Math.Min(_accelerator.MaxSharedMemoryPerGroup, MaxDynamicSharedBytes))
            throw new ArgumentException($"tile {tile} at head size {headDim} needs {sharedFloats * 4} bytes of shared memory");
        long rows = (long)batch * seqLen;
        if (qkv.Length < rows * 3 * d) throw new ArgumentException($"qkv holds {qkv.Length} floats, {rows * 3 * d} needed");
        if (output.Length < rows * d) throw new ArgumentException($"output holds {output.Length} floats, {rows * d} needed");
        if (rows == 0) return;

        long groups = (long)batch * heads * ((seqLen + tile - 1) / tile);
        if (groups > int.MaxValue) throw new ArgumentException("too many attention groups for one launch");
        var shape = new AttentionShape(seqLen, d, heads, headDim, tile, 1f / MathF.Sqrt(headDim));
        var config = new KernelConfig(new Index1D((int)groups), new Index1D(groupSize), SharedMemoryConfig.RequestDynamic<float>(sharedFloats));
        _kernel(s, config, qkv.SubView(0, rows * 3 * d), output.SubView(0, rows * d), shape);
    }
}
