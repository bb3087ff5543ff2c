using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Cpu;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

public abstract class GemmKernelChecks(IAcceleratorFixture fx)
{
    protected Accelerator Accelerator => fx.Accelerator;

    private GemmOp? _opLazy;
    protected GemmOp Op => _opLazy ??= new(fx.Accelerator);

    /// <summary>
    /// Tolerance |gpu − cpu| ≤ 1e-5·max(1, |cpu|). Both sides sum each output over k = 0..K−1 in ascending order,
    /// but the CPU reference fuses each step (FMA) while the kernel writes c += a·b (fused by ptxas on a GPU, two
    /// roundings on the CPU accelerator), and GELU's exp-built tanh differs from MathF.Tanh by ~1e-7.
    /// </summary>
    protected const float Tolerance = 1e-5f;

    /// <summary>M, K, N not multiples of any tile (nor of 4), each with and without GELU, on both tiles (128, 64).</summary>
    public static TheoryData<int, int, int, bool, int> RaggedShapes()
    {
        var data = new TheoryData<int, int, int, bool, int>();
        (int M, int K, int N)[] shapes = [(1, 1, 1), (5, 33, 7), (17, 31, 65), (64, 48, 96), (3, 70, 130), (130, 17, 3), (70, 9, 135)];
        foreach (var (m, k, n) in shapes)
            foreach (bool gelu in new[] { false, true })
                foreach (int tile in new[] { 128, 64 })
                    data.Add(m, k, n, gelu, tile);
        return data;
    }

    [Theory]
    [MemberData(nameof(RaggedShapes))]
    public void MatchesCpuMatMulBias(int m, int k, int n, bool gelu, int tile)
    {
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: m * 1000 + k * 10 + n);
        var expected = Cpu(x, w, b, m, k, n, gelu);
        var actual = Run(x, w, b, m, k, n, gelu, tile == 128 ? GemmTileChoice.Tile128 : GemmTileChoice.Tile64);
        AssertClose(expected, actual);
    }

    [Fact]
    public void PublicLaunchUsesOnlyTheFirstElementsOfLongerViewsAndLeavesTheRestOfYAlone()
    {
        const int m = 9, k = 13, n = 11;
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: 7);
        var expected = Cpu(x, w, b, m, k, n, gelu: true);
        using var dx = fx.Accelerator.Allocate1D<float>([.. x, .. Enumerable.Repeat(float.NaN, 5)]);
        using var dw = fx.Accelerator.Allocate1D<float>([.. w, .. Enumerable.Repeat(float.NaN, 5)]);
        using var db = fx.Accelerator.Allocate1D<float>([.. b, .. Enumerable.Repeat(float.NaN, 5)]);
        using var dy = fx.Accelerator.Allocate1D<float>(Enumerable.Repeat(-7f, m * n + 5).ToArray());
        Op.Launch(fx.Accelerator.DefaultStream, dx.View, dw.View, db.View, dy.View, m, k, n, gelu: true);
        fx.Accelerator.Synchronize();
        var y = dy.GetAsArray1D();
        AssertClose(expected, y[..(m * n)]);
        Assert.All(y[(m * n)..], v => Assert.Equal(-7f, v));
    }

    [Fact]
    public void ZeroDepthGivesTheBias()
    {
        var b = new[] { 1f, -2f, 0.5f };
        var y = Run([], [], b, 2, 0, 3, gelu: false, GemmTileChoice.Auto);
        Assert.Equal(new[] { 1f, -2f, 0.5f, 1f, -2f, 0.5f }, y);
    }

    /// <summary>
    /// The 128-bit staging path (K and N multiples of 4, x and W 16-byte aligned) and the guarded 32-bit fallback
    /// (K or N not a multiple of 4, or x or W starting off a 16-byte boundary, here by one float), on both tiles,
    /// with ragged M and K not a multiple of the slice depth.
    /// </summary>
    [Theory]
    [InlineData(5, 36, 68, 0, 0, true)]     // vectorised; K = 36 ends inside a slice, N = 68 inside a tile
    [InlineData(130, 20, 132, 0, 0, true)]  // vectorised; M and N one tile + a few
    [InlineData(9, 4, 4, 0, 0, true)]       // vectorised; a single float4 of K and of N
    [InlineData(5, 100, 68, 0, 0, true)]    // vectorised; several slices of both tiles, the last one partial
    [InlineData(5, 34, 68, 0, 0, false)]    // K not a multiple of 4
    [InlineData(7, 36, 70, 0, 0, false)]    // N not a multiple of 4
    [InlineData(6, 36, 68, 1, 0, false)]    // x one float off alignment
    [InlineData(6, 36, 68, 0, 3, false)]    // W three floats off alignment
    [InlineData(6, 36, 68, 4, 4, true)]     // four floats off: aligned again
    public void VectorisedAndScalarStagingMatchTheCpu(int m, int k, int n, int xOffset, int wOffset, bool vectorised)
    {
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: m + k + n + xOffset);
        var expected = Cpu(x, w, b, m, k, n, gelu: true);
        using var dx = fx.Accelerator.Allocate1D<float>([.. new float[xOffset], .. x]);
        using var dw = fx.Accelerator.Allocate1D<float>([.. new float[wOffset], .. w]);
        using var db = fx.Accelerator.Allocate1D(b);
        using var dy = fx.Accelerator.Allocate1D<float>(m * n);
        var xv = dx.View.SubView(xOffset, m * k);
        var wv = dw.View.SubView(wOffset, k * n);
        Assert.Equal(vectorised, GemmOp.Vectorisable(xv, wv, k, n));
        foreach (var tile in new[] { GemmTileChoice.Tile128, GemmTileChoice.Tile64 })
        {
            dy.MemSetToZero();
            Op.Launch(fx.Accelerator.DefaultStream, xv, wv, db.View, dy.View, m, k, n, gelu: true, tile);
            fx.Accelerator.Synchronize();
            AssertClose(expected, dy.GetAsArray1D());
        }
    }

    private float[] Run(float[] x, float[] w, float[] b, int m, int k, int n, bool gelu, GemmTileChoice tile)
    {
        // ILGPU cannot allocate 0 elements; a 1-element dummy stands in for empty inputs.
        using var dx = fx.Accelerator.Allocate1D<float>(x.Length == 0 ? [0f] : x);
        using var dw = fx.Accelerator.Allocate1D<float>(w.Length == 0 ? [0f] : w);
        using var db = fx.Accelerator.Allocate1D<float>(b);
        using var dy = fx.Accelerator.Allocate1D<float>(m * n);
        Op.Launch(fx.Accelerator.DefaultStream, dx.View, dw.View, db.View, dy.View, m, k, n, gelu, tile);
        fx.Accelerator.Synchronize();
        return dy.GetAsArray1D();
    }


    protected static unsafe float[] Cpu(float[] x, float[] w, float[] b, int m, int k, int n, bool gelu)
    {
        var y = new float[m * n];
        fixed (float* px = x, pw = w, pb = b, py = y) CpuMath.MatMulBias(px, pw, pb, py, m, k, n, gelu);
        return y;
    }

    protected static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(actual[i] - expected[i]) <= Tolerance * MathF.Max(1f, MathF.Abs(expected[i])),
                $"element {i}: {actual[i]:R} vs cpu {expected[i]:R}");
    }
}

/// <summary>On ILGPU's CPU accelerator, plus what only it can check (PTX, other warp sizes, CUDA where present).</summary>
public sealed class GemmKernelTests(CpuAcceleratorFixture fx, ITestOutputHelper output) : GemmKernelChecks(fx), IClassFixture<CpuAcceleratorFixture>
{
    /// <summary>
    /// On a machine with a CUDA device (reported as skipped without one): GPT-2 shapes on the GPU, both tiles, vs the
    /// CPU reference with the same tolerance. Also reports how many outputs are bit-identical: all of them when
    /// ptxas fused every c += a·b into an FMA (the CPU reference's rounding).
    /// </summary>
    [CudaTheory]
    [InlineData(512, 768, 3072, true)]
    [InlineData(300, 3072, 768, false)]
    [InlineData(77, 1600, 6400, true)]
    public void CudaMatchesTheCpuWhenADeviceExists(int m, int k, int n, bool gelu)
    {
        var cuda = NeuronEngine.Runtime.IlgpuContexts.TryCreateCuda()!.Value;
        using var context = cuda.Context;
        using var accelerator = cuda.Accelerator;
        var op = new GemmOp(accelerator);
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: 11);
        var expected = Cpu(x, w, b, m, k, n, gelu);
        using var dx = accelerator.Allocate1D(x);
        using var dw = accelerator.Allocate1D(w);
        using var db = accelerator.Allocate1D(b);
        using var dy = accelerator.Allocate1D<float>(m * n);
        foreach (var tile in new[] { GemmTileChoice.Tile128, GemmTileChoice.Tile64, GemmTileChoice.Auto })
        {
            dy.MemSetToZero();
            op.Launch(accelerator.DefaultStream, dx.View, dw.View, db.View, dy.View, m, k, n, gelu, tile);
            accelerator.Synchronize();
            var actual = dy.GetAsArray1D();
            int identical = expected.Zip(actual).Count(p => p.First == p.Second);
            float maxDiff = expected.Zip(actual).Max(p => MathF.Abs(p.First - p.Second));
            output.WriteLine($"{m}x{k}x{n} gelu={gelu} {tile}: {identical}/{expected.Length} bit-identical, max |diff| {maxDiff:E2}");
            AssertClose(expected, actual);
        }
    }

    /// <summary>GeluMath.Gelu vs CpuMath.Gelu (exact MathF.Tanh): |a − b| ≤ 1e-6·max(1, |b|) over [-20, 20].</summary>
    [Fact]
    public void GeluMatchesTheCpu()
    {
        var xs = Enumerable.Range(-20000, 40001).Select(i => i / 1000f)
            .Concat([-1e-6f, 1e-6f, -1e-30f, 0f, -0f, 9.01f, -9.01f, 12.5f, -12.5f, 1e4f, -1e4f, float.MaxValue, float.MinValue]);
        foreach (float v in xs)
        {
            float expected = CpuMath.Gelu(v), actual = GeluMath.Gelu(v);
            Assert.True(MathF.Abs(actual - expected) <= 1e-6f * MathF.Max(1f, MathF.Abs(expected)),
                $"gelu({v:R}) = {actual:R}, cpu {expected:R}");
        }
        Assert.Equal(100f, GeluMath.Gelu(100f));
        Assert.Equal(0f, GeluMath.Gelu(-100f));
        Assert.False(float.IsNaN(GeluMath.Gelu(100f)) || float.IsNaN(GeluMath.Gelu(-100f)));
        Assert.Equal(1f, GeluMath.Tanh(1e6f));
        Assert.Equal(-1f, GeluMath.Tanh(-1e6f));
    }

    /// <summary>
    /// GELU's tanh now takes DeviceMath.Exp, the kernels' one exp (it had a twin, GeluMath.Exp, with other clamping).
    /// Over the arguments tanh passes it (|2u| ≤ 20) the two are the same float function: this test keeps the removed
    /// twin, verbatim, as the reference and compares bit patterns, so GEMM+GELU outputs are unchanged by the merge.
    /// </summary>
    [Fact]
    public void GeluExpIsBitIdenticalToTheRemovedTwin()
    {
        static float RemovedGeluExp(float t)
        {
            const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693145751953125f, Ln2Lo = 1.42860682028622680e-6f;
            t = t < -87f ? -87f : t > 88f ? 88f : t;
            float scaled = t * Log2E;
            int n = (int)(scaled + (scaled >= 0f ? 0.5f : -0.5f));
            float r = t - n * Ln2Hi;
            r -= n * Ln2Lo;
            float p = 1f / 5040f;
            p = p * r + 1f / 720f;
            p = p * r + 1f / 120f;
            p = p * r + 1f / 24f;
            p = p * r + 1f / 6f;
            p = p * r + 0.5f;
            p = p * r + 1f;
            p = p * r + 1f;
            return p * BitConverter.UInt32BitsToSingle((uint)(n + 127) << 23);
        }
        for (float t = -20f; t <= 20f; t = MathF.BitIncrement(t) + 1.7e-4f)
            Assert.True(BitConverter.SingleToInt32Bits(DeviceMath.Exp(t)) == BitConverter.SingleToInt32Bits(RemovedGeluExp(t)), $"exp({t:R})");
        foreach (float t in new[] { -20f, -0f, 0f, 1e-30f, 20f, MathF.BitDecrement(20f) })
            Assert.Equal(BitConverter.SingleToInt32Bits(RemovedGeluExp(t)), BitConverter.SingleToInt32Bits(DeviceMath.Exp(t)));
    }

    /// <summary>
    /// Each catalogued GEMM as the runtime loads it: its launch bound in the PTX (.maxntid = the group; ILGPU maps
    /// KernelSpecialization's second argument to .minnctapersm, checked here too, but the catalogue leaves it out:
    /// see KernelCatalog.Gemm128Vec4), 128-bit global loads exactly in the vectorised kernels, 128-bit shared-memory
    /// reads, exact GELU, no local memory, no calls, and a shared-memory access between any two barriers (ILGPU 1.5.3
    /// moves loads down to their first use: in straight-line code that put both barriers of the K loop next to each
    /// other, before the reads they were meant to fence).
    /// </summary>
    [Theory]
    [InlineData(nameof(KernelCatalog.Gemm128Vec4), 256, true)]
    [InlineData(nameof(KernelCatalog.Gemm128Scalar), 256, false)]
    [InlineData(nameof(KernelCatalog.Gemm64Vec4), 64, true)]
    [InlineData(nameof(KernelCatalog.Gemm64Scalar), 64, false)]
    public void CompilesToPtxWithExactGeluAndVectorSharedLoads(string entry, int threads, bool vectorised)
    {
        using var ptx = new PtxCompiler();
        var kernel = (CatalogKernel)typeof(KernelCatalog).GetField(entry)!.GetValue(null)!;
        var asm = ptx.Compile(kernel);
        Assert.Contains(".entry", asm);
        Assert.Contains($".maxntid {threads}, 1, 1", asm);
        Assert.DoesNotContain(".minnctapersm", asm);
        Assert.Contains(".minnctapersm 2", ptx.Compile(kernel.EntryPoint, new ILGPU.Runtime.KernelSpecialization(threads, 2)));
        Assert.DoesNotContain("tanh.approx", asm);
        // c += a·b must reach ptxas as mul.f32 + add.f32 without rounding modifiers, so it contracts them to FFMA.
        Assert.Contains("mul.f32", asm);
        Assert.DoesNotContain("mul.rn.f32", asm);
        Assert.DoesNotContain("add.rn.f32", asm);
        Assert.Contains("ld.shared.v4.f32", asm);   // the inner loop's 128-bit shared-memory reads
        Assert.Equal(vectorised, asm.Contains("ld.global.v4.f32"));  // 128-bit staging loads of x and W
        Assert.Equal(vectorised, asm.Contains("st.shared.v4.f32"));  // and 128-bit stores of W into the tile
        Assert.DoesNotContain(".local", asm);       // accumulators and staging stay in registers
        Assert.DoesNotContain("call", asm);         // helpers inlined, no extern (e.g. MathF.FusedMultiplyAdd)
        var betweenBarriers = asm.Split("bar.sync")[1..^1];
        Assert.NotEmpty(betweenBarriers);
        Assert.All(betweenBarriers, code => Assert.True(code.Contains("ld.shared") || code.Contains("st.shared"), "two barriers with no shared-memory access between them"));
    }
}

/// <summary>On the OpenCL device (pocl in CI: scripts/opencl-tests.sh), same cases and tolerances.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public sealed class GemmKernelOpenClTests(OpenClAcceleratorFixture fx) : GemmKernelChecks(fx), IClassFixture<OpenClAcceleratorFixture>;
