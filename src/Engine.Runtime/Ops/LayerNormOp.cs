using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime.Ops;

/// <summary>Host side of <see cref="LayerNormKernel"/>: y = LayerNorm(x)·γ + β over <c>rows</c> rows of length d.</summary>
public sealed class LayerNormOp
{
    /// <summary>
    /// Threads per row on a real GPU: 128 (4 warps) gives 6 elements per thread at d = 768 and 12.5 at d = 1600,
    /// enough to hide load latency, and ≥ 4 rows' groups fit per multiprocessor.
    /// </summary>
    internal const int PreferredGroupSize = 128;

    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> _kernel;

    public LayerNormOp(Accelerator a)
    {
        _accelerator = a;
        _kernel = KernelCatalog.LayerNorm.Load(a);
    }

    /// <summary>Launches asynchronously on <paramref name="s"/>; x and y may be longer than rows·d (y must not alias x).</summary>
    public void Launch(AcceleratorStream s, ArrayView<float> x, ArrayView<float> y, ArrayView<float> gamma, ArrayView<float> beta,
        int rows, int d, float eps) =>
        Launch(s, x, y, gamma, beta, rows, d, eps, DefaultGroupSize(d));

    /// <summary>The group size the public launch uses: up to <see cref="PreferredGroupSize"/>, no wider than the row needs.</summary>
    internal int DefaultGroupSize(int d)
    {
        int warp = _accelerator.WarpSize;
        int cap = Math.Min(Math.Min(PreferredGroupSize, _accelerator.MaxNumThreadsPerGroup), GroupReductions.MaxWarpsPerGroup * warp) / warp * warp;
        return Math.Max(warp, Math.Min(cap, (d + warp - 1) / warp * warp));
    }

    /// <summary>Launch with an explicit group size (tests use it to make rows ragged against the group).</summary>
    internal void Launch(AcceleratorStream s, ArrayView<float> x, ArrayView<float> y, ArrayView<float> gamma, ArrayView<float> beta,
        int rows, int d, float eps, int groupSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d);
        int warp = _accelerator.WarpSize;
        if (groupSize <= 0 || groupSize % warp != 0 || groupSize > _accelerator.MaxNumThreadsPerGroup || groupSize / warp > GroupReductions.MaxWarpsPerGroup)
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize,
                $"must be a multiple of the warp size {warp}, at most {_accelerator.MaxNumThreadsPerGroup} and {GroupReductions.MaxWarpsPerGroup} warps");
        long elements = (long)rows * d;
        if (x.Length < elements || y.Length < elements) throw new ArgumentException($"x and y need {elements} floats");
        if (gamma.Length < d || beta.Length < d) throw new ArgumentException($"gamma and beta need {d} floats");
        if (rows == 0) return;
        _kernel(s, new KernelConfig(rows, groupSize), x.SubView(0, elements), y.SubView(0, elements), gamma.SubView(0, d), beta.SubView(0, d), d, eps);
    }
}
