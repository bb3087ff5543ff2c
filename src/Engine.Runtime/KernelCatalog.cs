using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime.Ops;
using GemmLauncher = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int, int, int, int>;

namespace NeuronEngine.Runtime;

/// <summary>
/// Every kernel the runtime loads, with its grouping, generic instantiation and specialisation: the one place that
/// says how a kernel is compiled. The Ops and the scorer load only through these entries (a test checks that no other
/// code calls ILGPU's loaders), and `engine ptx` / scripts/ptx-report.sh compile <see cref="All"/>, so the PTX
/// report cannot drift from what runs.
/// </summary>
public static class KernelCatalog
{
    // ---- Explicitly grouped ---------------------------------------------------------------------------------------

    /// <summary>LayerNorm with warp-shuffle group sums (CUDA, the CPU accelerator: <see cref="AcceleratorPlan"/>).</summary>
    public static readonly CatalogKernel<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>>
        LayerNorm = Explicit<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(
            LayerNormKernel.Forward<WarpShuffleSum>, KernelSpecialization.Empty, new(LayerNormOp.PreferredGroupSize));

    /// <summary>LayerNorm with shared-memory tree sums (OpenCL); the same order of additions.</summary>
    public static readonly CatalogKernel<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>>
        LayerNormTree = Explicit<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(
            LayerNormKernel.Forward<SharedTreeSum>, KernelSpecialization.Empty, new(LayerNormOp.PreferredGroupSize));

    /// <summary>Reported at GPT-2's head size 64 with the largest tile (32): 37.5 KB of dynamic shared memory.</summary>
    public static readonly CatalogKernel<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, AttentionShape>>
        Attention = Explicit<ArrayView<float>, ArrayView<float>, AttentionShape>(
            AttentionKernel.Forward, KernelSpecialization.Empty,
            new(AttentionOp.PreferredGroupSize, AttentionShape.SharedFloats(AttentionOp.MaxTile, 64) * sizeof(float)));

    public static readonly CatalogKernel<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<double>, int>>
        ScoringStatistics = Explicit<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<double>, int>(
            ScoringKernel.Statistics<WarpShuffleSum>, KernelSpecialization.Empty,
            new(ScoringKernel.DefaultThreadsPerGroup, ScoringKernel.SharedDoubles(ScoringKernel.DefaultThreadsPerGroup) * sizeof(double)));

    /// <summary>The scorer on devices without warp operations: 32 threads per neuron, group barriers.</summary>
    public static readonly CatalogKernel<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<double>, int>>
        ScoringStatisticsTree = Explicit<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<double>, int>(
            ScoringKernel.Statistics<SharedTreeSum>, KernelSpecialization.Empty,
            new(ScoringKernel.DefaultThreadsPerGroup, ScoringKernel.SharedDoubles(ScoringKernel.DefaultThreadsPerGroup) * sizeof(double)));

    /// <summary>
    /// The GEMM for large M·N, 128-bit staging loads (K and N multiples of 4, views 16-byte aligned). Launch bound
    /// .maxntid 256 (KernelSpecialization's first argument). Two groups per multiprocessor need ≤ 128 registers;
    /// ptxas 11.8 uses 122 with this bound alone, while adding .minnctapersm 2 (the second argument), which caps it at
    /// exactly 128, made it spill 80 bytes in the inner loop (docs/ptx-report.md, docs/ilgpu.md).
    /// </summary>
    public static readonly CatalogKernel<GemmLauncher> Gemm128Vec4 = Gemm<GemmTile128, Vec4Staging>();

    /// <summary>The 128 tile with guarded 32-bit staging loads: any K, N and view alignment.</summary>
    public static readonly CatalogKernel<GemmLauncher> Gemm128Scalar = Gemm<GemmTile128, ScalarStaging>();

    /// <summary>The GEMM for small grids (64 threads per group), 128-bit staging loads; launch bound .maxntid 64.</summary>
    public static readonly CatalogKernel<GemmLauncher> Gemm64Vec4 = Gemm<GemmTile64, Vec4Staging>();

    /// <summary>The 64 tile with guarded 32-bit staging loads.</summary>
    public static readonly CatalogKernel<GemmLauncher> Gemm64Scalar = Gemm<GemmTile64, ScalarStaging>();

    /// <summary>
    /// The tensor-core GEMM, TF32 inputs (mma.sync m16n8k8), 128-bit x / 64-bit W staging loads: `--precision tf32`.
    /// 256 threads per group; launch bounds .maxntid 256 and .minnctapersm 2, i.e. ≤ 128 registers, two groups (16 warps)
    /// per multiprocessor. Unlike the fp32 GEMM, this kernel does not spill under the cap (docs/ptx-report.md), while
    /// with .maxntid alone ptxas gave the bf16 kernel 136 registers and one group per multiprocessor.
    /// </summary>
    public static readonly CatalogKernel<GemmLauncher> GemmTf32Vec4 = TensorCoreGemm<Tf32Mma, Vec4Staging>();

    /// <summary>The TF32 tensor-core GEMM with guarded 32-bit staging loads: any K, N and view alignment.</summary>
    public static readonly CatalogKernel<GemmLauncher> GemmTf32Scalar = TensorCoreGemm<Tf32Mma, ScalarStaging>();

    /// <summary>The tensor-core GEMM, bfloat16 inputs (mma.sync m16n8k16): `--precision bf16`.</summary>
    public static readonly CatalogKernel<GemmLauncher> GemmBf16Vec4 = TensorCoreGemm<Bf16Mma, Vec4Staging>();

    /// <summary>The bf16 tensor-core GEMM with guarded 32-bit staging loads.</summary>
    public static readonly CatalogKernel<GemmLauncher> GemmBf16Scalar = TensorCoreGemm<Bf16Mma, ScalarStaging>();

    // ---- Auto-grouped (one thread per index; ILGPU picks the group size) ------------------------------------------

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>>>
        AddInPlace = Auto<ArrayView<float>, ArrayView<float>>(ElementwiseKernels.AddInPlace);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<ushort>, ArrayView<float>>>
        WidenF16 = Auto<ArrayView<ushort>, ArrayView<float>>(ElementwiseKernels.WidenF16<HardwareHalf>);

    /// <summary>F16 widening by integer operations, for devices without fp16 (<see cref="AcceleratorPlan.HardwareHalf"/>).</summary>
    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<ushort>, ArrayView<float>>>
        WidenF16Bits = Auto<ArrayView<ushort>, ArrayView<float>>(ElementwiseKernels.WidenF16<IntegerHalf>);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<ushort>, ArrayView<float>>>
        WidenBF16 = Auto<ArrayView<ushort>, ArrayView<float>>(ElementwiseKernels.WidenBF16);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>
        EmbedF32 = Auto<ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(EmbeddingKernel.EmbedF32);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, int, int>>
        EmbedF16 = Auto<ArrayView<int>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, int, int>(EmbeddingKernel.EmbedF16<HardwareHalf>);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, int, int>>
        EmbedF16Bits = Auto<ArrayView<int>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, int, int>(EmbeddingKernel.EmbedF16<IntegerHalf>);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, int, int>>
        EmbedBF16 = Auto<ArrayView<int>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, int, int>(EmbeddingKernel.EmbedBF16);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, int>>
        WindowMax = Auto<ArrayView<float>, ArrayView<float>, int, int>(RecordKernels.WindowMax);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<double>, int, int>>
        WindowMoments = Auto<ArrayView<float>, ArrayView<double>, int, int>(RecordKernels.WindowMoments);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, int, int>>
        MergeMoments = Auto<ArrayView<double>, ArrayView<double>, int, int>(RecordKernels.MergeMoments);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>>
        SelectTop = Auto<ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>(RecordKernels.SelectTop);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>>
        SelectRandom = Auto<ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>(RecordKernels.SelectRandom);

    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>>
        SelectQuantile = Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>(RecordKernels.SelectQuantile);

    /// <summary>`engine related`: each neuron's top and bottom token lists over one chunk of the vocabulary.</summary>
    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>, ArrayView<ulong>, TokenChunk>>
        SelectTokens = Auto<ArrayView<float>, ArrayView<ulong>, ArrayView<ulong>, TokenChunk>(RelatedKernels.SelectTokens);

    /// <summary>Ablation's fan-out: the residual stream of each window copied into its batch elements.</summary>
    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int>>
        GatherRows = Auto<ArrayView<float>, ArrayView<float>, ArrayView<int>, int>(ElementwiseKernels.GatherRows);

    /// <summary>Patching: chosen neurons' post-GELU activations overwritten per batch element.</summary>
    public static readonly CatalogKernel<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>>
        PatchNeurons = Auto<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(ElementwiseKernels.PatchNeurons);

    /// <summary>Every entry above, in this order.</summary>
    public static IReadOnlyList<CatalogKernel> All { get; } =
    [
        LayerNorm, LayerNormTree, Attention, ScoringStatistics, ScoringStatisticsTree, Gemm128Vec4, Gemm128Scalar, Gemm64Vec4, Gemm64Scalar,
        GemmTf32Vec4, GemmTf32Scalar, GemmBf16Vec4, GemmBf16Scalar,
        AddInPlace, WidenF16, WidenF16Bits, WidenBF16, EmbedF32, EmbedF16, EmbedF16Bits, EmbedBF16,
        WindowMax, WindowMoments, MergeMoments, SelectTop, SelectRandom, SelectQuantile, SelectTokens,
        GatherRows, PatchNeurons,
    ];

    private static CatalogKernel<GemmLauncher> Gemm<TTile, TStaging>()
        where TTile : struct, IGemmTile where TStaging : struct, IGemmStaging =>
        Explicit<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(
            GemmKernel.Gemm<TTile, TStaging>, new KernelSpecialization(GemmKernel.ThreadsPerGroup<TTile>(), null),
            new(GemmKernel.ThreadsPerGroup<TTile>()));

    private static CatalogKernel<GemmLauncher> TensorCoreGemm<TPrecision, TStaging>()
        where TPrecision : struct, IMmaPrecision where TStaging : struct, IGemmStaging =>
        Explicit<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(
            TensorCoreGemmKernel.Gemm<TPrecision, TStaging>, new KernelSpecialization(TensorCoreGemmKernel.ThreadsPerGroup, 2),
            new(TensorCoreGemmKernel.ThreadsPerGroup));

    // Typed constructors, one per kernel arity in use: the launcher type follows from the kernel's signature as in
    // ILGPU's own LoadKernel / LoadAutoGroupedKernel overloads, so a launcher can never mismatch its kernel.

    private static CatalogKernel<Action<AcceleratorStream, KernelConfig, T1, T2, T3>> Explicit<T1, T2, T3>(
        Action<T1, T2, T3> kernel, KernelSpecialization specialization, ReportLaunch report) =>
        new(kernel, KernelGrouping.Explicit, specialization, report);

    private static CatalogKernel<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6>> Explicit<T1, T2, T3, T4, T5, T6>(
        Action<T1, T2, T3, T4, T5, T6> kernel, KernelSpecialization specialization, ReportLaunch report) =>
        new(kernel, KernelGrouping.Explicit, specialization, report);

    private static CatalogKernel<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>> Explicit<T1, T2, T3, T4, T5, T6, T7, T8>(
        Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel, KernelSpecialization specialization, ReportLaunch report) =>
        new(kernel, KernelGrouping.Explicit, specialization, report);

    private static CatalogKernel<Action<AcceleratorStream, Index1D, T1, T2>> Auto<T1, T2>(Action<Index1D, T1, T2> kernel) =>
        new(kernel, KernelGrouping.AutoGrouped, KernelSpecialization.Empty, new(null));

    private static CatalogKernel<Action<AcceleratorStream, Index1D, T1, T2, T3, T4>> Auto<T1, T2, T3, T4>(
        Action<Index1D, T1, T2, T3, T4> kernel) =>
        new(kernel, KernelGrouping.AutoGrouped, KernelSpecialization.Empty, new(null));

    private static CatalogKernel<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5>> Auto<T1, T2, T3, T4, T5>(
        Action<Index1D, T1, T2, T3, T4, T5> kernel) =>
        new(kernel, KernelGrouping.AutoGrouped, KernelSpecialization.Empty, new(null));

    private static CatalogKernel<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6>> Auto<T1, T2, T3, T4, T5, T6>(
        Action<Index1D, T1, T2, T3, T4, T5, T6> kernel) =>
        new(kernel, KernelGrouping.AutoGrouped, KernelSpecialization.Empty, new(null));
}
