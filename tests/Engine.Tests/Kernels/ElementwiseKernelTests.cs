using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Format;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Tests.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

public abstract class ElementwiseKernelChecks(IAcceleratorFixture fx)
{
    protected Accelerator Accelerator => fx.Accelerator;

    private ElementwiseOps? _opsLazy;
    protected ElementwiseOps Ops => _opsLazy ??= new(fx.Accelerator);

    [Fact]
    public void ResidualAddMatchesTheCpu()
    {
        var rng = new Random(1);
        float[] x = Enumerable.Range(0, 37).Select(_ => rng.NextSingle()).ToArray(), y = x.Select(v => v * 3 - 1).ToArray();
        using var dx = fx.Accelerator.Allocate1D(x);
        using var dy = fx.Accelerator.Allocate1D(y);
        Ops.AddInPlace(fx.Accelerator.DefaultStream, dx.View, dy.View, 37);
        Assert.Equal(x.Zip(y, (a, b) => a + b), dx.GetAsArray1D()); // exact: one float add each
    }

    [Theory]
    [InlineData(WeightFormat.F16)]
    [InlineData(WeightFormat.BF16)]
    public void WideningIsExact(WeightFormat format)
    {
        var rng = new Random(2);
        var values = Enumerable.Range(0, 101).Select(_ => (rng.NextSingle() - 0.5f) * 1000).Append(float.PositiveInfinity).Append(-0f).ToArray();
        ushort[] bits = format == WeightFormat.F16
            ? values.Select(v => BitConverter.HalfToUInt16Bits((System.Half)v)).ToArray()
            : values.Select(FloatConversion.FloatToBF16).ToArray();
        float[] expected = format == WeightFormat.F16
            ? bits.Select(b => (float)BitConverter.UInt16BitsToHalf(b)).ToArray()
            : bits.Select(FloatConversion.BF16ToFloat).ToArray();
        using var src = fx.Accelerator.Allocate1D(bits);
        using var dst = fx.Accelerator.Allocate1D<float>(bits.Length);
        Ops.Widen(fx.Accelerator.DefaultStream, src.View, format, dst.View);
        Assert.Equal(expected, dst.GetAsArray1D());
    }

    /// <summary>The integer F16 decode (devices without fp16) on the device, on every 16-bit pattern, against System.Half.</summary>
    [Fact]
    public void IntegerF16WideningIsExactOnEveryPattern()
    {
        ushort[] bits = Enumerable.Range(0, 1 << 16).Select(b => (ushort)b).ToArray();
        using var src = fx.Accelerator.Allocate1D(bits);
        using var dst = fx.Accelerator.Allocate1D<float>(bits.Length);
        KernelCatalog.WidenF16Bits.Load(fx.Accelerator)(fx.Accelerator.DefaultStream, bits.Length, src.View, dst.View);
        float[] actual = dst.GetAsArray1D();
        for (int b = 0; b < bits.Length; b++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf(bits[b]);
            Assert.True(float.IsNaN(expected) ? float.IsNaN(actual[b]) : expected.Equals(actual[b]) && float.IsNegative(expected) == float.IsNegative(actual[b]),
                $"0x{b:X4}: {expected:R} expected, got {actual[b]:R}");
        }
    }

}

/// <summary>On ILGPU's CPU accelerator, plus what only it can check (PTX, other warp sizes, CUDA where present).</summary>
public sealed class ElementwiseKernelTests(CpuAcceleratorFixture fx) : ElementwiseKernelChecks(fx), IClassFixture<CpuAcceleratorFixture>
{
    [Theory]
    [InlineData(nameof(KernelCatalog.AddInPlace))]
    [InlineData(nameof(KernelCatalog.WidenF16))]
    [InlineData(nameof(KernelCatalog.WidenF16Bits))]
    [InlineData(nameof(KernelCatalog.WidenBF16))]
    public void CompilesToPtx(string entry)
    {
        using var ptx = new PtxCompiler();
        var asm = ptx.Compile(KernelCatalogTests.Entry(entry));
        Assert.Contains(".entry", asm);
        if (entry == nameof(KernelCatalog.WidenF16)) Assert.Contains("cvt.f32.f16", asm);   // the device's half type
        if (entry == nameof(KernelCatalog.WidenF16Bits)) Assert.DoesNotContain("f16", asm); // integer operations only
    }
}

/// <summary>On the OpenCL device (pocl in CI: scripts/opencl-tests.sh), same cases and tolerances.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public sealed class ElementwiseKernelOpenClTests(OpenClAcceleratorFixture fx) : ElementwiseKernelChecks(fx), IClassFixture<OpenClAcceleratorFixture>;
