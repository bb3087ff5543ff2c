using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Format;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

public class ElementwiseKernelTests(CpuAcceleratorFixture fx) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ElementwiseOps _ops = new(fx.Accelerator);

    [Fact]
    public void ResidualAddMatchesTheCpu()
    {
        var rng = new Random(1);
        float[] x = Enumerable.Range(0, 37).Select(_ => rng.NextSingle()).ToArray(), y = x.Select(v => v * 3 - 1).ToArray();
        using var dx = fx.Accelerator.Allocate1D(x);
        using var dy = fx.Accelerator.Allocate1D(y);
        _ops.AddInPlace(fx.Accelerator.DefaultStream, dx.View, dy.View, 37);
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
        _ops.Widen(fx.Accelerator.DefaultStream, src.View, format, dst.View);
        Assert.Equal(expected, dst.GetAsArray1D());
    }

    [Theory]
    [InlineData(nameof(ElementwiseKernels.AddInPlace))]
    [InlineData(nameof(ElementwiseKernels.WidenF16))]
    [InlineData(nameof(ElementwiseKernels.WidenBF16))]
    public void CompilesToPtx(string kernel)
    {
        using var ptx = new PtxCompiler();
        var asm = ptx.CompileImplicit(PtxCompiler.Method(typeof(ElementwiseKernels), kernel));
        Assert.Contains(".entry", asm);
        if (kernel == nameof(ElementwiseKernels.WidenF16)) Assert.Contains("cvt.f32.f16", asm);
    }
}
