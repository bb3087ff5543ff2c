using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Format;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Tests.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

public abstract class EmbeddingKernelChecks(IAcceleratorFixture fx)
{
    protected Accelerator Accelerator => fx.Accelerator;

    private EmbeddingOp? _opLazy;
    protected EmbeddingOp Op => _opLazy ??= new(fx.Accelerator);

    /// <summary>
    /// x[t, i] = wte[token[t], i] + wpe[t mod T, i] against the same formula on the host, over tables widened on the
    /// host. Tolerance: exact (widening is exact and each element is a single float add on both sides).
    /// </summary>
    [Theory]
    [InlineData(WeightFormat.F32, 2, 7, 20)]
    [InlineData(WeightFormat.F16, 2, 7, 20)]
    [InlineData(WeightFormat.BF16, 2, 7, 20)]
    [InlineData(WeightFormat.F16, 3, 1, 13)]
    [InlineData(WeightFormat.BF16, 1, 33, 36)]
    public void MatchesTheCpuFormulaExactly(WeightFormat format, int batch, int seqLen, int d)
    {
        const int vocab = 11;
        var rng = new Random(100 + (int)format * 7 + d);
        int count = batch * seqLen;
        int[] tokens = Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
        tokens[0] = vocab - 1; // the last row of wte is reachable
        float[] wte = Values(rng, vocab * d), wpe = Values(rng, seqLen * d);
        (byte[] wteBytes, float[] wteWide) = Store(wte, format);
        (byte[] wpeBytes, float[] wpeWide) = Store(wpe, format);

        var expected = new float[count * d];
        for (int t = 0; t < count; t++)
            for (int i = 0; i < d; i++)
                expected[t * d + i] = wteWide[tokens[t] * d + i] + wpeWide[t % seqLen * d + i];

        // Views longer than needed: a trailing odd byte on the tables, spare token ids and a spare tail on x that must
        // stay untouched.
        using var dTokens = fx.Accelerator.Allocate1D(tokens.Append(12345).ToArray());
        using var dWte = fx.Accelerator.Allocate1D(wteBytes.Append((byte)0xAB).ToArray());
        using var dWpe = fx.Accelerator.Allocate1D(wpeBytes.Concat(new byte[3]).ToArray());
        using var dX = fx.Accelerator.Allocate1D(Enumerable.Repeat(-7f, count * d + 5).ToArray());
        Op.Launch(fx.Accelerator.DefaultStream, dTokens.View, dWte.View, dWpe.View, format, dX.View, count, seqLen, d);
        fx.Accelerator.DefaultStream.Synchronize();
        float[] x = dX.GetAsArray1D();

        Assert.Equal(expected, x[..(count * d)]);
        Assert.All(x[(count * d)..], v => Assert.Equal(-7f, v));
    }

    [Fact]
    public void ZeroTokensLaunchesNothing()
    {
        using var tokens = fx.Accelerator.Allocate1D<int>(1);
        using var table = fx.Accelerator.Allocate1D<byte>(16);
        using var x = fx.Accelerator.Allocate1D(new[] { -7f, -7f, -7f, -7f });
        Op.Launch(fx.Accelerator.DefaultStream, tokens.View, table.View, table.View, WeightFormat.F32, x.View, 0, 4, 4);
        fx.Accelerator.DefaultStream.Synchronize();
        Assert.Equal([-7f, -7f, -7f, -7f], x.GetAsArray1D()); // nothing written (a launch would have written row 0)
    }

    private static float[] Values(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (rng.NextSingle() - 0.5f) * 8).ToArray();

    /// <summary>The table's bytes in <paramref name="format"/> and the floats they widen to (what the CPU path sees).</summary>
    private static (byte[] Bytes, float[] Wide) Store(float[] values, WeightFormat format)
    {
        switch (format)
        {
            case WeightFormat.F32:
                return (values.SelectMany(BitConverter.GetBytes).ToArray(), values);
            case WeightFormat.F16:
            {
                ushort[] bits = values.Select(v => BitConverter.HalfToUInt16Bits((System.Half)v)).ToArray();
                return (bits.SelectMany(BitConverter.GetBytes).ToArray(), bits.Select(b => (float)BitConverter.UInt16BitsToHalf(b)).ToArray());
            }
            default:
            {
                ushort[] bits = values.Select(FloatConversion.FloatToBF16).ToArray();
                return (bits.SelectMany(BitConverter.GetBytes).ToArray(), bits.Select(FloatConversion.BF16ToFloat).ToArray());
            }
        }
    }
}

/// <summary>On ILGPU's CPU accelerator, plus what only it can check (PTX, other warp sizes, CUDA where present).</summary>
public sealed class EmbeddingKernelTests(CpuAcceleratorFixture fx) : EmbeddingKernelChecks(fx), IClassFixture<CpuAcceleratorFixture>
{
    [Theory]
    [InlineData(nameof(KernelCatalog.EmbedF32))]
    [InlineData(nameof(KernelCatalog.EmbedF16))]
    [InlineData(nameof(KernelCatalog.EmbedF16Bits))]
    [InlineData(nameof(KernelCatalog.EmbedBF16))]
    public void CompilesToPtx(string kernel)
    {
        using var ptx = new PtxCompiler();
        var asm = ptx.Compile(KernelCatalogTests.Entry(kernel));
        Assert.Contains(".entry", asm);
        Assert.DoesNotContain("tanh.approx", asm);
        Assert.DoesNotContain(".extern .func", asm); // e.g. MathF.FusedMultiplyAdd: an undefined function the driver cannot link
        Assert.DoesNotContain("call", asm);
        if (kernel == nameof(KernelCatalog.EmbedF16)) Assert.Contains("cvt.f32.f16", asm);
        if (kernel == nameof(KernelCatalog.EmbedF16Bits)) Assert.DoesNotContain("f16", asm);
    }
}

/// <summary>On the OpenCL device (pocl in CI: scripts/opencl-tests.sh), same cases and tolerances.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public sealed class EmbeddingKernelOpenClTests(OpenClAcceleratorFixture fx) : EmbeddingKernelChecks(fx), IClassFixture<OpenClAcceleratorFixture>;
