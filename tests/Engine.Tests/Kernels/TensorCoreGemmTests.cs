using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Cpu;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Tests.Support;
using NeuronEngine.Forward;

namespace NeuronEngine.Tests.Kernels;

/// <summary>ILGPU's CPU accelerator with 32-lane warps and 8 warps per group: what the tensor-core GEMM's emulation needs.</summary>
public sealed class Warp32AcceleratorFixture : IDisposable
{
    public Context Context { get; }
    public Accelerator Accelerator { get; }

    public Warp32AcceleratorFixture() =>
        (Context, Accelerator) = IlgpuContexts.CreateCpu(warpSize: TensorCoreGemmKernel.WarpSize, warpsPerGroup: 8);

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}

/// <summary>
/// The tensor-core GEMM (<see cref="TensorCoreGemmKernel"/>, `--precision tf32|bf16`) on ILGPU's CPU accelerator, where
/// every mma.sync is emulated with the PTX fragment layout (<see cref="TensorCoreMma"/>), against the rounding-aware
/// managed reference (CpuMath.MatMulBias in the same precision: inputs rounded by the same MmaRounding functions, then
/// one float32 FMA chain per output in ascending k). Products of rounded inputs are exact, so without GELU the two agree
/// bit for bit; with GELU within the GELU twins' 1e-6. Shapes are tiny (the emulator pays ~µs per thread per warp barrier).
/// </summary>
public class TensorCoreGemmTests(Warp32AcceleratorFixture fx) : IClassFixture<Warp32AcceleratorFixture>
{
    /// <summary>Ragged M, K, N (not multiples of 128, of the slice depth or of 4), with and without GELU, both precisions.</summary>
    public static TheoryData<int, int, int, bool, MatMulPrecision> RaggedShapes()
    {
        var data = new TheoryData<int, int, int, bool, MatMulPrecision>();
        (int M, int K, int N, bool Gelu)[] shapes =
            [(1, 1, 1, false), (5, 33, 7, true), (17, 70, 9, false), (130, 9, 3, true), (3, 13, 133, false), (20, 100, 36, true)];
        foreach (var (m, k, n, gelu) in shapes)
            foreach (var precision in new[] { MatMulPrecision.Tf32, MatMulPrecision.Bf16 })
                data.Add(m, k, n, gelu, precision);
        return data;
    }

    [Theory]
    [MemberData(nameof(RaggedShapes))]
    public void MatchesTheRoundedCpuReference(int m, int k, int n, bool gelu, MatMulPrecision precision)
    {
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: m * 1000 + k * 10 + n);
        var expected = Cpu(x, w, b, m, k, n, gelu, precision);
        var actual = Run(x, w, b, m, k, n, gelu, precision);
        AssertMatches(expected, actual, gelu);
    }

    /// <summary>
    /// The vectorised staging (float4 x loads, float2 W loads: K and N multiples of 4, views 16-byte aligned) and the
    /// guarded scalar fallback (K or N not a multiple of 4, or a view off alignment), both precisions, with K ending
    /// inside a slice and in a later slice (TF32 slices are 32 deep, bf16 64) and M, N past a tile.
    /// </summary>
    [Theory]
    [InlineData(5, 36, 68, 0, 0, true)]
    [InlineData(131, 100, 132, 0, 0, true)]
    [InlineData(9, 4, 4, 0, 0, true)]
    [InlineData(6, 34, 68, 0, 0, false)]
    [InlineData(7, 36, 70, 0, 0, false)]
    [InlineData(6, 36, 68, 1, 0, false)]
    [InlineData(6, 36, 68, 0, 2, false)]
    [InlineData(6, 36, 68, 4, 4, true)]
    public void VectorisedAndScalarStagingMatchTheReference(int m, int k, int n, int xOffset, int wOffset, bool vectorised)
    {
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: m + k + n + xOffset + 7 * wOffset);
        using var dx = fx.Accelerator.Allocate1D<float>([.. new float[xOffset], .. x]);
        using var dw = fx.Accelerator.Allocate1D<float>([.. new float[wOffset], .. w]);
        using var db = fx.Accelerator.Allocate1D(b);
        using var dy = fx.Accelerator.Allocate1D<float>(m * n);
        var xv = dx.View.SubView(xOffset, m * k);
        var wv = dw.View.SubView(wOffset, k * n);
        Assert.Equal(vectorised, GemmOp.Vectorisable(xv, wv, k, n));
        foreach (var precision in new[] { MatMulPrecision.Tf32, MatMulPrecision.Bf16 })
        {
            dy.MemSetToZero();
            new GemmOp(fx.Accelerator, precision).Launch(fx.Accelerator.DefaultStream, xv, wv, db.View, dy.View, m, k, n, gelu: false);
            fx.Accelerator.Synchronize();
            AssertMatches(Cpu(x, w, b, m, k, n, false, precision), dy.GetAsArray1D(), gelu: false);
        }
    }

    [Fact]
    public void UsesOnlyTheFirstElementsOfLongerViewsAndLeavesTheRestOfYAlone()
    {
        const int m = 9, k = 13, n = 11;
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: 3);
        using var dx = fx.Accelerator.Allocate1D<float>([.. x, .. Enumerable.Repeat(float.NaN, 5)]);
        using var dw = fx.Accelerator.Allocate1D<float>([.. w, .. Enumerable.Repeat(float.NaN, 5)]);
        using var db = fx.Accelerator.Allocate1D<float>([.. b, .. Enumerable.Repeat(float.NaN, 5)]);
        using var dy = fx.Accelerator.Allocate1D<float>(Enumerable.Repeat(-7f, m * n + 5).ToArray());
        new GemmOp(fx.Accelerator, MatMulPrecision.Bf16).Launch(fx.Accelerator.DefaultStream, dx.View, dw.View, db.View, dy.View, m, k, n, gelu: true);
        fx.Accelerator.Synchronize();
        var y = dy.GetAsArray1D();
        AssertMatches(Cpu(x, w, b, m, k, n, true, MatMulPrecision.Bf16), y[..(m * n)], gelu: true);
        Assert.All(y[(m * n)..], v => Assert.Equal(-7f, v));
    }

    [Fact]
    public void ZeroDepthGivesTheBias()
    {
        var b = new[] { 1f, -2f, 0.5f };
        Assert.Equal(new[] { 1f, -2f, 0.5f, 1f, -2f, 0.5f }, Run([], [], b, 2, 0, 3, gelu: false, MatMulPrecision.Tf32));
    }

    /// <summary>
    /// The rounding is really applied: inputs chosen so that the TF32, bf16 and fp32 products differ (1 + 2⁻¹², which
    /// TF32 keeps as 1 and bf16 too; 1 + 2⁻⁸, which TF32 keeps and bf16 rounds to even, i.e. to 1).
    /// </summary>
    [Fact]
    public void RoundsItsInputs()
    {
        float[] x = [1f + MathF.Pow(2, -12), 1f + MathF.Pow(2, -8)], w = [1f, 1f], b = [0f];
        Assert.Equal([2f], Run(x, w, b, 1, 2, 1, false, MatMulPrecision.Bf16));
        Assert.Equal([2f + MathF.Pow(2, -8)], Run(x, w, b, 1, 2, 1, false, MatMulPrecision.Tf32));
        Assert.Equal(2f + MathF.Pow(2, -8) + MathF.Pow(2, -12), x[0] * w[0] + x[1] * w[1]);
    }

    /// <summary>The emulation's fragment layout is a 32-lane warp's: an accelerator with other warps is refused, with the reason.</summary>
    [Fact]
    public void RefusesAnAcceleratorWithoutThirtyTwoLaneWarps()
    {
        var (context, accelerator) = IlgpuContexts.CreateCpu();   // warp 4
        using (context)
        using (accelerator)
        {
            Assert.Contains("32-lane warps", GemmOp.WhyNoTensorCores(accelerator));
            var e = Assert.Throws<NotSupportedException>(() => new GemmOp(accelerator, MatMulPrecision.Tf32));
            Assert.StartsWith("--precision tf32:", e.Message);
            Assert.Equal(MatMulPrecision.Fp32, new GemmOp(accelerator).Precision);
        }
        Assert.Null(GemmOp.WhyNoTensorCores(fx.Accelerator));
    }

    /// <summary>
    /// On a CUDA device (skipped without one): GPT-2's shapes on the tensor cores against the same rounded reference.
    /// The hardware sums each instruction's products in its own order, so the tolerance is float32 rounding of sums of
    /// |x|·|w| over K (inputs in [−1, 1]: K·2⁻²³·4 plus the GELU twins' 1e-6); it reports the worst difference.
    /// </summary>
    [CudaTheory]
    [InlineData(512, 768, 3072, true, MatMulPrecision.Tf32)]
    [InlineData(300, 3072, 768, false, MatMulPrecision.Tf32)]
    [InlineData(512, 768, 3072, true, MatMulPrecision.Bf16)]
    [InlineData(77, 1600, 6400, false, MatMulPrecision.Bf16)]
    [InlineData(33, 70, 135, true, MatMulPrecision.Tf32)]
    public void CudaMatchesTheRoundedReferenceWhenADeviceExists(int m, int k, int n, bool gelu, MatMulPrecision precision)
    {
        var cuda = IlgpuContexts.TryCreateCuda()!.Value;
        using var context = cuda.Context;
        using var accelerator = cuda.Accelerator;
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: 11);
        var expected = Cpu(x, w, b, m, k, n, gelu, precision);
        using var dx = accelerator.Allocate1D(x);
        using var dw = accelerator.Allocate1D(w);
        using var db = accelerator.Allocate1D(b);
        using var dy = accelerator.Allocate1D<float>(m * n);
        new GemmOp(accelerator, precision).Launch(accelerator.DefaultStream, dx.View, dw.View, db.View, dy.View, m, k, n, gelu);
        accelerator.Synchronize();
        var actual = dy.GetAsArray1D();
        float tolerance = k * 4 * MathF.Pow(2, -23) + 1e-6f;
        float worst = expected.Zip(actual).Max(p => MathF.Abs(p.First - p.Second));
        TestContext.Current.TestOutputHelper?.WriteLine($"{precision} {m}x{k}x{n} gelu={gelu}: max |gpu − reference| {worst:E2} (tolerance {tolerance:E2})");
        Assert.True(worst <= tolerance, $"max |gpu − reference| {worst} > {tolerance}");
    }

    /// <summary>
    /// Each catalogued tensor-core GEMM as the runtime loads it (offline PTX, sm_90): .maxntid 256, .minnctapersm 2; the 16 mma.sync of a
    /// warp's k-step with the precision's shape; the inputs converted by the PTX instruction (cvt.rna.tf32.f32 /
    /// cvt.rn.bf16x2.f32); fragments read with 128-bit (A) and 64-bit (B) shared loads, tiles staged with 128-bit stores;
    /// 128-bit x and 64-bit W global loads exactly in the vectorised kernels; exact GELU; no calls. The emulation is still
    /// in ILGPU's PTX, behind a predicate set to the constant false (ILGPU folds CudaAsm.IsSupported to a constant but
    /// does not drop the branch; ptxas does — docs/ptx-report.md shows the SASS), and its scratch tiles are dynamic
    /// shared memory, requested only off CUDA: the static shared memory is exactly the two 20 KB tiles. ILGPU passes
    /// EmitRef operands through 4-byte local slots, which ptxas keeps in registers (0 bytes of stack in the report).
    /// And, as for the fp32 GEMM, a shared-memory access between any two barriers (ILGPU moves loads down to their use).
    /// </summary>
    [Theory]
    [InlineData(nameof(KernelCatalog.GemmTf32Vec4), false, true)]
    [InlineData(nameof(KernelCatalog.GemmTf32Scalar), false, false)]
    [InlineData(nameof(KernelCatalog.GemmBf16Vec4), true, true)]
    [InlineData(nameof(KernelCatalog.GemmBf16Scalar), true, false)]
    public void CompilesToPtxWithMmaSync(string entry, bool bf16, bool vectorised)
    {
        using var ptx = new PtxCompiler();
        var kernel = (CatalogKernel)typeof(KernelCatalog).GetField(entry)!.GetValue(null)!;
        var asm = ptx.Compile(kernel);
        Assert.Contains(".entry", asm);
        Assert.Contains($".maxntid {TensorCoreGemmKernel.ThreadsPerGroup}, 1, 1", asm);
        Assert.Contains(".minnctapersm 2", asm);   // ≤ 128 registers: two groups per multiprocessor
        string mma = bf16 ? "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32" : "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32";
        Assert.Equal(16, System.Text.RegularExpressions.Regex.Matches(asm, System.Text.RegularExpressions.Regex.Escape(mma)).Count);
        Assert.DoesNotContain(bf16 ? "tf32" : "bf16", asm);
        Assert.Contains(bf16 ? "cvt.rn.bf16x2.f32" : "cvt.rna.tf32.f32", asm);
        Assert.Contains("ld.shared.v4", asm);
        Assert.Contains("ld.shared.v2", asm);
        Assert.Contains("st.shared.v4", asm);
        Assert.Equal(vectorised, asm.Contains("ld.global.v4.f32"));
        Assert.Equal(vectorised, asm.Contains("ld.global.v2.f32"));
        Assert.DoesNotContain("tanh.approx", asm);
        Assert.DoesNotContain("call", asm);
        Assert.DoesNotContain(".extern .func", asm);
        var statics = System.Text.RegularExpressions.Regex.Matches(asm, @"^\s*\.shared\s.*\[(\d+)\];", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.Equal(["20480", "20480"], statics.Select(s => s.Groups[1].Value));
        Assert.All(System.Text.RegularExpressions.Regex.Matches(asm, @"__local_depot\d+\[(\d+)\]").Select(d => d.Groups[1].Value), size => Assert.Equal("4", size));
        var betweenBarriers = asm.Split("bar.sync")[1..^1];
        Assert.NotEmpty(betweenBarriers);
        Assert.All(betweenBarriers, code => Assert.True(code.Contains("ld.shared") || code.Contains("st.shared"), "two barriers with no shared-memory access between them"));
    }

    private float[] Run(float[] x, float[] w, float[] b, int m, int k, int n, bool gelu, MatMulPrecision precision)
    {
        using var dx = fx.Accelerator.Allocate1D<float>(x.Length == 0 ? [0f] : x);
        using var dw = fx.Accelerator.Allocate1D<float>(w.Length == 0 ? [0f] : w);
        using var db = fx.Accelerator.Allocate1D<float>(b);
        using var dy = fx.Accelerator.Allocate1D<float>(m * n);
        new GemmOp(fx.Accelerator, precision).Launch(fx.Accelerator.DefaultStream, dx.View, dw.View, db.View, dy.View, m, k, n, gelu);
        fx.Accelerator.Synchronize();
        return dy.GetAsArray1D();
    }


    internal static unsafe float[] Cpu(float[] x, float[] w, float[] b, int m, int k, int n, bool gelu, MatMulPrecision precision)
    {
        var y = new float[m * n];
        fixed (float* px = x, pw = w, pb = b, py = y) CpuMath.MatMulBias(px, pw, pb, py, m, k, n, gelu, precision);
        return y;
    }

    /// <summary>Without GELU: equal values (the emulation and the reference sum the same exact products in the same order); with it, 1e-6.</summary>
    private static void AssertMatches(float[] expected, float[] actual, bool gelu)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(gelu ? MathF.Abs(actual[i] - expected[i]) <= 1e-6f * MathF.Max(1f, MathF.Abs(expected[i])) : actual[i] == expected[i],
                $"element {i}: {actual[i]:R} vs reference {expected[i]:R}");
    }
}
