using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Cpu;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

public unsafe class LayerNormKernelTests(CpuAcceleratorFixture fx) : IClassFixture<CpuAcceleratorFixture>
{
    private const float Eps = 1e-5f;

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

    [Fact]
    public void PublicLaunchPicksAValidGroup()
    {
        var op = new LayerNormOp(fx.Accelerator);
        Assert.Equal(20, op.DefaultGroupSize(20));   // warp 4: rounded up to the warp, one element per thread
        Assert.Equal(128, op.DefaultGroupSize(768));
        Check(fx.Accelerator, op, 3, 37, groupSize: null);
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
        var op = new LayerNormOp(fx.Accelerator);
        using var buffer = fx.Accelerator.Allocate1D<float>(16);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            op.Launch(fx.Accelerator.DefaultStream, buffer.View, buffer.View, buffer.View, buffer.View, 2, 8, Eps, 6));
    }

    [Fact]
    public void CompilesToPtx()
    {
        using var ptx = new PtxCompiler();
        var asm = ptx.CompileExplicit(PtxCompiler.Method(typeof(LayerNormKernel), nameof(LayerNormKernel.Forward)), 128);
        Assert.Contains(".entry", asm);
        Assert.DoesNotContain("tanh.approx", asm);
        Assert.DoesNotContain(".extern .func", asm); // e.g. MathF.FusedMultiplyAdd: an undefined function the driver cannot link
        Assert.DoesNotContain("call", asm);
        Assert.DoesNotContain("rsqrt.approx", asm); // 1/√(var+ε) is correctly rounded
        Assert.Contains("shfl.sync.bfly", asm);      // the warp butterfly
    }

    private static void Check(Accelerator accelerator, LayerNormOp op, int rows, int d, int? groupSize)
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
