using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NeuronEngine.Kernels;
using NeuronEngine.Forward;
using GemmLauncher = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int, int, int, int>;

namespace NeuronEngine.Runtime.Ops;

/// <summary>Which <see cref="GemmKernel"/> tile a launch uses (Auto: <see cref="GemmOp"/> picks).</summary>
internal enum GemmTileChoice
{
    Auto,
    Tile128,
    Tile64,
}

/// <summary>
/// Host side of <see cref="GemmKernel"/> and <see cref="TensorCoreGemmKernel"/>: y = x·W + bias (then GELU), the
/// projections of GPT-2 (qkv, attention output, MLP up with GELU, MLP down), in the op's <see cref="Precision"/>.
/// fp32 picks the tile (<see cref="Choose"/>) and the staging-load width (<see cref="Vectorisable"/>); tf32 and bf16
/// run the tensor-core kernel (128×128 tiles) with the same choice of staging loads. Each kernel is compiled on first
/// use, once per accelerator.
/// </summary>
public sealed class GemmOp
{
    private readonly Accelerator _accelerator;
    // [2·(64 tile) + vectorised]: each of the four catalogued fp32 GEMMs is loaded on first use; likewise the two
    // tensor-core kernels of the op's precision ([vectorised]).
    private readonly GemmLauncher?[] _kernels = new GemmLauncher?[4];
    private readonly GemmLauncher?[] _tensorCoreKernels = new GemmLauncher?[2];

    /// <param name="accelerator">where the kernels run</param>
    /// <param name="precision">
    /// the GEMMs' precision: fp32 (CUDA cores, the reference) or tf32/bf16 (tensor cores through mma.sync: CUDA
    /// devices of compute capability 8.0 and up; emulated on ILGPU's CPU accelerator, which then needs 32-lane warps)
    /// </param>
    public GemmOp(Accelerator accelerator, MatMulPrecision precision = MatMulPrecision.Fp32)
    {
        _accelerator = accelerator;
        Precision = precision;
        if (accelerator.MaxNumThreadsPerGroup < GemmKernel.ThreadsPerGroup<GemmTile64>())
            throw new NotSupportedException(
                $"GEMM needs groups of {GemmKernel.ThreadsPerGroup<GemmTile64>()} threads; {accelerator.Name} allows {accelerator.MaxNumThreadsPerGroup}");
        if (precision != MatMulPrecision.Fp32 && WhyNoTensorCores(accelerator) is { } why)
            throw new NotSupportedException($"--precision {precision.Name()}: {why}");
    }

    /// <summary>The precision of every launch of this op.</summary>
    public MatMulPrecision Precision { get; }

    /// <summary>
    /// Why <see cref="TensorCoreGemmKernel"/> cannot run on an accelerator, or null when it can: CUDA needs
    /// mma.sync's TF32/bf16 shapes (sm_80+); the CPU accelerator runs the emulation, whose fragment layout is that
    /// of a 32-lane warp; OpenCL has no tensor-core instruction here.
    /// </summary>
    public static string? WhyNoTensorCores(Accelerator accelerator)
    {
        if (accelerator.MaxNumThreadsPerGroup < TensorCoreGemmKernel.ThreadsPerGroup)
            return $"the tensor-core GEMM needs groups of {TensorCoreGemmKernel.ThreadsPerGroup} threads; {accelerator.Name} allows {accelerator.MaxNumThreadsPerGroup}";
        return accelerator switch
        {
            CudaAccelerator cuda when cuda.Architecture < CudaArchitecture.SM_80 =>
                $"tensor cores with TF32/bf16 need compute capability 8.0 or later; {accelerator.Name} is {cuda.Architecture}",
            CudaAccelerator => null,
            _ when accelerator.AcceleratorType == AcceleratorType.CPU => accelerator.WarpSize == TensorCoreGemmKernel.WarpSize ? null
                : $"the CPU accelerator emulates mma.sync with 32-lane warps; this one has {accelerator.WarpSize} (IlgpuContexts.CreateCpu(warpSize: 32, …))",
            _ => $"{accelerator.AcceleratorType} has no tensor-core GEMM here (CUDA sm_80+ or the `cpu` device)",
        };
    }

    /// <summary>y[m,n] = x[m,k]·w[k,n] + bias[n] (then GELU if gelu), in <see cref="Precision"/>.</summary>
    /// <remarks>
    /// x and y are row-major, w is in Conv1D layout (row-major [k, n] = [in, out]). Views may be longer than needed:
    /// the first m·k, k·n, n and m·n elements are used. Asynchronous on <paramref name="stream"/>.
    /// </remarks>
    public void Launch(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y, int m, int k, int n, bool gelu)
    {
        if (Precision == MatMulPrecision.Fp32) Launch(stream, x, w, bias, y, m, k, n, gelu, GemmTileChoice.Auto);
        else LaunchTensorCore(stream, x, w, bias, y, m, k, n, gelu);
    }

    internal void Launch(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y, int m, int k, int n, bool gelu, GemmTileChoice choice)
    {
        if (!Validate(ref x, ref w, ref bias, ref y, m, k, n)) return;
        var tile = choice == GemmTileChoice.Auto ? Choose(m, n) : choice;
        if (tile == GemmTileChoice.Tile128 && _accelerator.MaxNumThreadsPerGroup < GemmKernel.ThreadsPerGroup<GemmTile128>())
            tile = GemmTileChoice.Tile64;
        int size = tile == GemmTileChoice.Tile128 ? 128 : 64;
        int threads = tile == GemmTileChoice.Tile128 ? GemmKernel.ThreadsPerGroup<GemmTile128>() : GemmKernel.ThreadsPerGroup<GemmTile64>();
        var config = new KernelConfig(new Index2D((n + size - 1) / size, (m + size - 1) / size), new Index2D(threads, 1));
        bool vectorised = Vectorisable(x, w, k, n);
        var kernel = _kernels[(tile == GemmTileChoice.Tile128 ? 0 : 2) + (vectorised ? 1 : 0)] ??= Kernel(tile, vectorised).Load(_accelerator);
        kernel(stream, config, x, w, bias, y, m, k, n, gelu ? 1 : 0);
    }

    /// <summary>The tensor-core GEMM in <see cref="Precision"/> (tf32 or bf16), 128×128 tiles of 256 threads.</summary>
    internal void LaunchTensorCore(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y, int m, int k, int n, bool gelu)
    {
        if (Precision == MatMulPrecision.Fp32) throw new InvalidOperationException("this GemmOp is fp32; the tensor-core kernel is for tf32 and bf16");
        if (!Validate(ref x, ref w, ref bias, ref y, m, k, n)) return;
        const int size = TensorCoreGemmKernel.Tile;
        var grid = new Index2D((n + size - 1) / size, (m + size - 1) / size);
        var group = new Index2D(TensorCoreGemmKernel.ThreadsPerGroup, 1);
        // Where mma.sync is emulated (not CUDA), the kernel's scratch tiles are dynamic shared memory.
        var config = _accelerator.AcceleratorType == AcceleratorType.Cuda ? new KernelConfig(grid, group)
            : new KernelConfig(grid, group, SharedMemoryConfig.RequestDynamic<float>(TensorCoreGemmKernel.EmulationSharedFloats));
        bool vectorised = Vectorisable(x, w, k, n);
        var kernel = _tensorCoreKernels[vectorised ? 1 : 0] ??= TensorCoreKernel(Precision, vectorised).Load(_accelerator);
        kernel(stream, config, x, w, bias, y, m, k, n, gelu ? 1 : 0);
    }

    /// <summary>
    /// Checks sizes and views (false: nothing to compute) and trims the views to the elements used. The kernels index
    /// with 32-bit ints (cheaper address arithmetic); rows of a partial last tile are addressed up to (m + 128)·k
    /// before their guard discards them.
    /// </summary>
    private static bool Validate(ref ArrayView<float> x, ref ArrayView<float> w, ref ArrayView<float> bias, ref ArrayView<float> y, int m, int k, int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (m == 0 || n == 0) return false;
        if ((long)(m + 128) * k > int.MaxValue || (long)k * n > int.MaxValue || (long)m * n > int.MaxValue)
            throw new NotSupportedException($"GEMM {m}×{k}×{n} exceeds 32-bit indexing; split the rows");
        Require(x, (long)m * k, nameof(x));
        Require(w, (long)k * n, nameof(w));
        Require(bias, n, nameof(bias));
        Require(y, (long)m * n, nameof(y));
        x = x.SubView(0, (long)m * k);
        w = w.SubView(0, (long)k * n);
        bias = bias.SubView(0, n);
        y = y.SubView(0, (long)m * n);
        return true;
    }

    /// <summary>The catalogued tensor-core kernel for a precision (tf32 or bf16) and staging-load width.</summary>
    internal static CatalogKernel<GemmLauncher> TensorCoreKernel(MatMulPrecision precision, bool vectorised) => (precision, vectorised) switch
    {
        (MatMulPrecision.Tf32, true) => KernelCatalog.GemmTf32Vec4,
        (MatMulPrecision.Tf32, false) => KernelCatalog.GemmTf32Scalar,
        (MatMulPrecision.Bf16, true) => KernelCatalog.GemmBf16Vec4,
        (MatMulPrecision.Bf16, false) => KernelCatalog.GemmBf16Scalar,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "fp32 has no tensor-core kernel"),
    };

    /// <summary>The catalogued kernel for a tile and staging-load width.</summary>
    internal static CatalogKernel<GemmLauncher> Kernel(GemmTileChoice tile, bool vectorised) => (tile, vectorised) switch
        {
            (GemmTileChoice.Tile128, true) => KernelCatalog.Gemm128Vec4,
            (GemmTileChoice.Tile128, false) => KernelCatalog.Gemm128Scalar,
            (_, true) => KernelCatalog.Gemm64Vec4,
            _ => KernelCatalog.Gemm64Scalar,
        };

    /// <summary>
    /// Whether the 128-bit staging loads are valid (<see cref="IGemmStaging.Vectorised"/>): K and N multiples of 4
    /// (every x row and W row then starts on a float4, and a float4 never straddles the end of K or N) and x and w
    /// starting 16-byte aligned (a sub-view at an offset that is not a multiple of 4 floats is not; ILGPU's own
    /// buffers are). The address test is the host-side AlignTo: its unaligned prefix is empty.
    /// </summary>
    internal static bool Vectorisable(ArrayView<float> x, ArrayView<float> w, int k, int n) =>
        k % 4 == 0 && n % 4 == 0 && x.AlignTo(16).Prefix.Length == 0 && w.AlignTo(16).Prefix.Length == 0;

    /// <summary>
    /// The 128 tile does 4× the work per group with half the shared-memory traffic per FLOP, but a grid of few
    /// 128-tiles leaves multiprocessors idle (M = 512, N = 3072 gives 96 groups for 132 SMs on an H200; N = 768
    /// gives 6 columns). Use it only when it yields at least two full waves at two resident groups per
    /// multiprocessor (256 threads × ~128 registers); otherwise the 64 tile (4× the groups) fills the device.
    /// </summary>
    internal GemmTileChoice Choose(int m, int n)
    {
        if (_accelerator.MaxNumThreadsPerGroup < GemmKernel.ThreadsPerGroup<GemmTile128>()) return GemmTileChoice.Tile64;
        long groups128 = (long)((m + 127) / 128) * ((n + 127) / 128);
        return groups128 >= 4L * Math.Max(1, _accelerator.NumMultiprocessors) ? GemmTileChoice.Tile128 : GemmTileChoice.Tile64;
    }

    private static void Require(ArrayView<float> view, long needed, string name)
    {
        if (view.Length < needed) throw new ArgumentException($"{name} has {view.Length} elements, needs {needed}", name);
    }
}
