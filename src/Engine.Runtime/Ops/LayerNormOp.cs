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

    private readonly AcceleratorPlan _plan;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> _kernel;

    public LayerNormOp(Accelerator a) : this(a, AcceleratorPlan.For(a)) { }

    /// <summary>With an explicit plan: tests run the shared-memory tree on the CPU accelerator too.</summary>
    internal LayerNormOp(Accelerator a, AcceleratorPlan plan)
    {
        _plan = plan;
        _kernel = (plan.Shuffles ? KernelCatalog.LayerNorm : KernelCatalog.LayerNormTree).Load(a);
    }

    /// <summary>Launches asynchronously on <paramref name="s"/>; x and y may be longer than rows·d (y must not alias x).</summary>
    public void Launch(AcceleratorStream s, ArrayView<float> x, ArrayView<float> y, ArrayView<float> gamma, ArrayView<float> beta,
        int rows, int d, float eps) =>
        Launch(s, x, y, gamma, beta, rows, d, eps, DefaultGroupSize(d));

    /// <summary>The group size the public launch uses: up to <see cref="PreferredGroupSize"/>, no wider than the row needs.</summary>
    internal int DefaultGroupSize(int d) => Math.Min(_plan.Cap(PreferredGroupSize), _plan.RoundUp(d));

    /// <summary>Launch with an explicit group size (tests use it to make rows ragged against the group).</summary>
    internal void Launch(AcceleratorStream s, ArrayView<float> x, ArrayView<float> y, ArrayView<float> gamma, ArrayView<float> beta,
        int rows, int d, float eps, int groupSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d);
        _plan.CheckGroup(groupSize, "LayerNorm");
        long elements = (long)rows * d;
        if (x.Length < elements || y.Length < elements) throw new ArgumentException($"x and y need {elements} floats");
        if (gamma.Length < d || beta.Length < d) throw new ArgumentException($"gamma and beta need {d} floats");
        if (rows == 0) return;
        _kernel(s, new KernelConfig(rows, groupSize), x.SubView(0, elements), y.SubView(0, elements), gamma.SubView(0, d), beta.SubView(0, d), d, eps);
    }
}
