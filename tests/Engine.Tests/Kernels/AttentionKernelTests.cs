using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Cpu;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

public abstract unsafe class AttentionKernelChecks(IAcceleratorFixture fx)
{
    protected Accelerator Accelerator => fx.Accelerator;

    private AttentionOp? _opLazy;
    protected AttentionOp Op => _opLazy ??= new(fx.Accelerator);

    /// <summary>
    /// Against CpuMath.CausalAttention. Tolerance 1e-5·max(1, |ref|): the kernel's online softmax rescales partial
    /// sums (float) where the reference sums exp in double after the global max, and divides by the sum at the end
    /// instead of scaling each probability. q is scaled up so some softmaxes are peaked.
    /// Shapes: T = 1; T = 7 and 33, ragged against tiles of 4 and 8; head sizes 5, 12, 8, 16; batch 2; 3–4 heads;
    /// groups smaller and larger than a tile's work.
    /// </summary>
    [Theory]
    [InlineData(2, 1, 12, 3, 4, 8)]    // T = 1, dh = 4
    [InlineData(2, 7, 20, 4, 4, 8)]    // dh = 5, two query blocks, the second half-empty
    [InlineData(2, 33, 36, 3, 8, 16)]  // dh = 12, 33 = 4·8 + 1
    [InlineData(1, 33, 32, 4, 32, 64)] // dh = 8, one full block and one with a single query
    [InlineData(2, 17, 48, 3, 16, 4)]  // dh = 16, one warp for a 16×16 tile
    public void MatchesTheCpuReference(int batch, int seqLen, int d, int heads, int tile, int groupSize) =>
        Check(batch, seqLen, d, heads, (tile, groupSize));

    [Theory]
    [InlineData(2, 33, 64, 4)]
    [InlineData(1, 1, 20, 4)]
    public void PublicLaunchMatchesTheCpuReference(int batch, int seqLen, int d, int heads) =>
        Check(batch, seqLen, d, heads, null);

    private void Check(int batch, int seqLen, int d, int heads, (int Tile, int Group)? launch)
    {
        var rng = new Random(batch * 10_000 + seqLen * 100 + d);
        int rows = batch * seqLen;
        float[] qkv = new float[rows * 3 * d];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < 3 * d; c++)
                qkv[r * 3 * d + c] = (rng.NextSingle() - 0.5f) * (c < d ? 6f : 2f);
        var expected = new float[rows * d];
        fixed (float* pq = qkv, po = expected) CpuMath.CausalAttention(pq, po, batch, seqLen, d, heads);

        using var dQkv = fx.Accelerator.Allocate1D(qkv.Concat(new float[7]).ToArray());
        using var dOut = fx.Accelerator.Allocate1D(Enumerable.Repeat(-9f, rows * d + 5).ToArray());
        var stream = fx.Accelerator.DefaultStream;
        if (launch is { } l) Op.Launch(stream, dQkv.View, dOut.View, batch, seqLen, d, heads, l.Tile, l.Group);
        else Op.Launch(stream, dQkv.View, dOut.View, batch, seqLen, d, heads);
        stream.Synchronize();
        float[] output = dOut.GetAsArray1D();

        Close.All(expected, output, 1e-5f, $"attention B={batch} T={seqLen} d={d} heads={heads} launch={launch}");
        Assert.All(output[(rows * d)..], v => Assert.Equal(-9f, v));
    }
}

/// <summary>On ILGPU's CPU accelerator, plus what only it can check (PTX, other warp sizes, CUDA where present).</summary>
public sealed unsafe class AttentionKernelTests(CpuAcceleratorFixture fx) : AttentionKernelChecks(fx), IClassFixture<CpuAcceleratorFixture>
{
    [Fact]
    public void CompilesToPtx()
    {
        using var ptx = new PtxCompiler();
        var asm = ptx.CompileExplicit(PtxCompiler.Method(typeof(AttentionKernel), nameof(AttentionKernel.Forward)), 128);
        Assert.Contains(".entry", asm);
        Assert.DoesNotContain("tanh.approx", asm);
        Assert.DoesNotContain(".extern .func", asm); // e.g. MathF.FusedMultiplyAdd: an undefined function the driver cannot link
        Assert.DoesNotContain("call", asm);
        Assert.DoesNotContain("ex2.approx", asm); // DeviceMath.Exp is plain float arithmetic
        Assert.DoesNotContain("div.approx", asm);
    }

    [Fact]
    public void DefaultTileFitsTheShapes()
    {
        Assert.Equal(1, Op.DefaultTile(1, 64));
        Assert.Equal(8, Op.DefaultTile(7, 64));
        Assert.Equal(32, Op.DefaultTile(1024, 64));
        Assert.True(AttentionShape.SharedFloats(32, 64) * 4 <= 48 * 1024);
        Assert.True(Op.DefaultTile(1024, 256) < 32); // big heads shrink the tile to fit 48 KB
    }
}

/// <summary>On the OpenCL device (pocl in CI: scripts/opencl-tests.sh), same cases and tolerances.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public sealed class AttentionKernelOpenClTests(OpenClAcceleratorFixture fx) : AttentionKernelChecks(fx), IClassFixture<OpenClAcceleratorFixture>;
