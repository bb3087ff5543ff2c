using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Cpu;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

/// <summary>LayerNorm on any accelerator (the CPU emulator and OpenCL subclasses below) against CpuMath.LayerNorm.</summary>
public abstract unsafe class LayerNormKernelChecks(IAcceleratorFixture fx)
{
    protected const float Eps = 1e-5f;

    protected Accelerator Accelerator => fx.Accelerator;

    /// <summary>
    /// Against CpuMath.LayerNorm (double sums). Tolerance 1e-5·max(1, |ref|): the kernel sums in float per thread and
    /// in a tree across threads; rows have a mean of ~10 with unit spread, so cancellation is exercised.
    /// Group sizes are ragged against d (20 = 2·8 + 4, 36 = 2·16 + 4), wider than d (5 over 16 threads) and one
    /// thread per element with several warps (warp 4 here).
    /// </summary>
    [Theory]
    [InlineData(5, 20, 8)]
    [InlineData(3, 36, 16)]
    [InlineData(2, 5, 16)]
    [InlineData(4, 36, 36)]
    [InlineData(1, 1, 4)]
    [InlineData(3, 100, 64)]
    public void MatchesTheCpuReference(int rows, int d, int groupSize) =>
        Check(fx.Accelerator, new LayerNormOp(fx.Accelerator), rows, d, groupSize);

    internal static void Check(Accelerator accelerator, LayerNormOp op, int rows, int d, int? groupSize)
    {
        var rng = new Random(rows * 1000 + d);
        float[] x = Enumerable.Range(0, rows * d).Select(_ => 10f + (rng.NextSingle() - 0.5f) * 4).ToArray();
        float[] gamma = Enumerable.Range(0, d).Select(_ => 0.5f + rng.NextSingle()).ToArray();
        float[] beta = Enumerable.Range(0, d).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        var expected = new float[rows * d];
        fixed (float* px = x, py = expected, pg = gamma, pb = beta) CpuMath.LayerNorm(px, py, pg, pb, rows, d, Eps);

        using var dx = accelerator.Allocate1D(x);
        using var dy = accelerator.Allocate1D(Enumerable.Repeat(-3f, rows * d + 3).ToArray()); // longer than needed
        using var dg = accelerator.Allocate1D(gamma);
        using var db = accelerator.Allocate1D(beta);
        var stream = accelerator.DefaultStream;
        if (groupSize is { } g) op.Launch(stream, dx.View, dy.View, dg.View, db.View, rows, d, Eps, g);
        else op.Launch(stream, dx.View, dy.View, dg.View, db.View, rows, d, Eps);
        stream.Synchronize();
        float[] y = dy.GetAsArray1D();

        Close.All(expected, y, 1e-5f, $"layernorm rows={rows} d={d} group={groupSize}");
        Assert.All(y[(rows * d)..], v => Assert.Equal(-3f, v));
    }
}

/// <summary>On ILGPU's CPU accelerator (4-lane warps), plus what only it can show: 32-lane warps, the tree against the shuffles, PTX.</summary>
public sealed unsafe class LayerNormKernelTests(CpuAcceleratorFixture fx) : LayerNormKernelChecks(fx), IClassFixture<CpuAcceleratorFixture>
{
    [Fact]
    public void PublicLaunchPicksAValidGroup()
    {
        var op = new LayerNormOp(Accelerator);
        Assert.Equal(20, op.DefaultGroupSize(20));   // warp 4: rounded up to the warp, one element per thread
        Assert.Equal(128, op.DefaultGroupSize(768));
        Check(Accelerator, op, 3, 37, groupSize: null);
    }

    /// <summary>
    /// The shared-memory tree (what OpenCL runs) gives the warp shuffles' result bit for bit: the same order of additions.
    /// Rows of mixed magnitude (an offset of 1e3 on every seventh element), so the order shows in the low bits.
    /// </summary>
    [Theory]
    [InlineData(5, 100, 64)]
    [InlineData(3, 768, 128)]
    [InlineData(2, 36, 12)]
    public void TheTreeAndTheShufflesAgreeBitForBit(int rows, int d, int groupSize)
    {
        var shuffles = new LayerNormOp(Accelerator);
        var tree = new LayerNormOp(Accelerator, new AcceleratorPlan(Shuffles: false, Granularity: 1, MaxGroupSize: SharedTreeSum.MaxGroupSize, HardwareHalf: true));
        var rng = new Random(d);
        float[] x = Enumerable.Range(0, rows * d).Select(i => (rng.NextSingle() - 0.5f) * 3 + (i % 7 == 0 ? 1e3f : 0f)).ToArray();
        float[] gamma = Enumerable.Range(0, d).Select(_ => 0.5f + rng.NextSingle()).ToArray();
        float[] beta = Enumerable.Range(0, d).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        using var dx = Accelerator.Allocate1D(x);
        using var dg = Accelerator.Allocate1D(gamma);
        using var db = Accelerator.Allocate1D(beta);
        using var y1 = Accelerator.Allocate1D<float>(rows * d);
        using var y2 = Accelerator.Allocate1D<float>(rows * d);
        var s = Accelerator.DefaultStream;
        shuffles.Launch(s, dx.View, y1.View, dg.View, db.View, rows, d, Eps, groupSize);
        tree.Launch(s, dx.View, y2.View, dg.View, db.View, rows, d, Eps, groupSize);
        Assert.Equal(y1.GetAsArray1D().Select(BitConverter.SingleToInt32Bits), y2.GetAsArray1D().Select(BitConverter.SingleToInt32Bits));
    }

    /// <summary>The 32-lane path (five butterfly steps, two warps sharing the scratch) on a warp-32 CPU accelerator.</summary>
    [Fact]
    public void WorksWithThirtyTwoLaneWarps()
    {
        var (context, accelerator) = IlgpuContexts.CreateCpu(32, 8);
        using (context)
        using (accelerator)
        {
            Assert.Equal(32, accelerator.WarpSize);
            var op = new LayerNormOp(accelerator);
            Check(accelerator, op, 2, 100, 64);
            Check(accelerator, op, 2, 20, 32);
        }
    }

    [Fact]
    public void RejectsAGroupThatIsNotWholeWarps()
    {
        var op = new LayerNormOp(Accelerator);
        using var buffer = Accelerator.Allocate1D<float>(16);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            op.Launch(Accelerator.DefaultStream, buffer.View, buffer.View, buffer.View, buffer.View, 2, 8, Eps, 6));
    }

    [Fact]
    public void CompilesToPtx()
    {
        using var ptx = new PtxCompiler();
        var asm = ptx.Compile(KernelCatalog.LayerNorm);
        Assert.Contains(".entry", asm);
        Assert.DoesNotContain("tanh.approx", asm);
        Assert.DoesNotContain(".extern .func", asm); // e.g. MathF.FusedMultiplyAdd: an undefined function the driver cannot link
        Assert.DoesNotContain("call", asm);
        Assert.DoesNotContain("rsqrt.approx", asm); // 1/√(var+ε) is correctly rounded
        Assert.Contains("shfl.sync.bfly", asm);      // the warp butterfly
        Assert.DoesNotContain("shfl", ptx.Compile(KernelCatalog.LayerNormTree)); // the variant for devices that cannot shuffle
    }
}

/// <summary>On the OpenCL device (pocl in CI): the shared-memory tree, same tolerance.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public sealed class LayerNormKernelOpenClTests(OpenClAcceleratorFixture fx) : LayerNormKernelChecks(fx), IClassFixture<OpenClAcceleratorFixture>
{
    [Fact]
    public void PublicLaunchPicksAValidGroup()
    {
        var op = new LayerNormOp(Accelerator);
        Assert.Equal(128, op.DefaultGroupSize(768));   // the same group as on CUDA: the same order of additions
        Check(Accelerator, op, 3, 37, groupSize: null);
    }
}
