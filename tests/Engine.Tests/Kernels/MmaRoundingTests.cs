using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Cpu;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;
using NeuronEngine.Forward;

namespace NeuronEngine.Tests.Kernels;

/// <summary>
/// MmaRounding, the one definition of the tensor-core GEMMs' input rounding (kernels and the `cpu` device), against
/// references computed independently in double precision from the definitions: TF32 = round to nearest, ties away from
/// zero, to 10 mantissa bits (cvt.rna.tf32.f32); bf16 = round to nearest, ties to even, to 7 mantissa bits
/// (cvt.rn.bf16.f32). On a CUDA device the PTX instructions themselves are compared with the host's integer arithmetic.
/// </summary>
public class MmaRoundingTests
{
    [Fact]
    public void Tf32RoundsToNearestWithTiesAwayFromZero()
    {
        foreach (float v in Samples())
            Assert.True(Same(Reference(v, 10, tiesToEven: false), MmaRounding.RoundTf32(v)), $"tf32({v:R} = 0x{Bits(v):X8}) = 0x{Bits(MmaRounding.RoundTf32(v)):X8}, expected 0x{Bits(Reference(v, 10, false)):X8}");
        // Ties: 1 + 2⁻¹¹ is half an ulp of TF32 at 1 → away from zero; 1 + 3·2⁻¹¹ → 1 + 2⁻⁹ (away, not to even).
        Assert.Equal(1f + MathF.Pow(2, -10), MmaRounding.RoundTf32(1f + MathF.Pow(2, -11)));
        Assert.Equal(-(1f + MathF.Pow(2, -10)), MmaRounding.RoundTf32(-(1f + MathF.Pow(2, -11))));
        Assert.Equal(1f + MathF.Pow(2, -9), MmaRounding.RoundTf32(1f + 3 * MathF.Pow(2, -11)));
        Assert.Equal(0u, MmaRounding.Tf32Bits(1.2345f) & 0x1FFFu);               // low 13 bits zero
    }

    [Fact]
    public void Bf16RoundsToNearestWithTiesToEven()
    {
        foreach (float v in Samples())
            Assert.True(Same(Reference(v, 7, tiesToEven: true), MmaRounding.RoundBf16(v)), $"bf16({v:R} = 0x{Bits(v):X8}) = 0x{Bits(MmaRounding.RoundBf16(v)):X8}, expected 0x{Bits(Reference(v, 7, true)):X8}");
        Assert.Equal(1f, MmaRounding.RoundBf16(1f + MathF.Pow(2, -8)));                        // tie → even (down)
        Assert.Equal(1f + MathF.Pow(2, -6), MmaRounding.RoundBf16(1f + 3 * MathF.Pow(2, -8)));   // tie → even (up)
        Assert.Equal(0x3F80u, MmaRounding.Bf16Bits(1f));
        Assert.Equal(0x3F80u | (0xC000u << 16), MmaRounding.PackBf16x2(1f, -2f));               // low half first
        Assert.Equal(1f, MmaRounding.Bf16Low(MmaRounding.PackBf16x2(1f, -2f)));
        Assert.Equal(-2f, MmaRounding.Bf16High(MmaRounding.PackBf16x2(1f, -2f)));
    }

    [Fact]
    public void SpecialValuesStaySpecial()
    {
        foreach (var round in new Func<float, float>[] { MmaRounding.RoundTf32, MmaRounding.RoundBf16 })
        {
            Assert.Equal(float.PositiveInfinity, round(float.PositiveInfinity));
            Assert.Equal(float.NegativeInfinity, round(float.NegativeInfinity));
            Assert.Equal(float.PositiveInfinity, round(float.MaxValue));                           // rounds past the largest value
            Assert.True(float.IsNegative(round(-0f)) && round(-0f) == 0f);
            foreach (uint nan in new[] { 0x7FC00000u, 0x7F800001u, 0x7FFFFFFFu, 0xFF800001u, 0x7F801FFFu })
                Assert.True(float.IsNaN(round(BitConverter.UInt32BitsToSingle(nan))), $"NaN 0x{nan:X8}");
        }
    }

    [Fact]
    public void RoundDispatchesOnThePrecision()
    {
        const float v = 1.2345678f;
        Assert.Equal(v, CpuMath.RoundInput(v, MatMulPrecision.Fp32));
        Assert.Equal(MmaRounding.RoundTf32(v), CpuMath.RoundInput(v, MatMulPrecision.Tf32));
        Assert.Equal(MmaRounding.RoundBf16(v), CpuMath.RoundInput(v, MatMulPrecision.Bf16));
        Assert.Equal(MatMulPrecision.Bf16, MatMulPrecisions.Parse("BF16"));
        Assert.Equal("tf32", MatMulPrecision.Tf32.Name());
        Assert.Contains("'fp16' is not fp32, tf32, bf16", Assert.Throws<ArgumentException>(() => MatMulPrecisions.Parse("fp16")).Message);
    }

    /// <summary>The `cpu` device's GEMM in tf32/bf16 = the fp32 GEMM over inputs rounded element by element (bias and output unrounded).</summary>
    [Theory]
    [InlineData(MatMulPrecision.Tf32)]
    [InlineData(MatMulPrecision.Bf16)]
    public unsafe void CpuMatMulBiasRoundsOnlyItsInputs(MatMulPrecision precision)
    {
        const int m = 7, k = 37, n = 19;
        var (x, w, b) = GemmInputs.Random(m, k, n, seed: 5);
        var expected = new float[m * n];
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
            {
                float acc = 0;
                for (int i = 0; i < k; i++) acc = MathF.FusedMultiplyAdd(CpuMath.RoundInput(x[r * k + i], precision), CpuMath.RoundInput(w[i * n + c], precision), acc);
                expected[r * n + c] = acc + b[c];
            }
        var actual = TensorCoreGemmTests.Cpu(x, w, b, m, k, n, gelu: false, precision);
        Assert.Equal(expected, actual);
        Assert.NotEqual(TensorCoreGemmTests.Cpu(x, w, b, m, k, n, gelu: false, MatMulPrecision.Fp32), actual);
    }

    /// <summary>
    /// On a CUDA device (skipped without one): cvt.rna.tf32.f32 and cvt.rn.bf16x2.f32, which the kernels use there, give
    /// the bits the host's integer arithmetic gives (what the `cpu` device and ILGPU's CPU accelerator use), NaNs aside.
    /// </summary>
    [CudaFact]
    public void PtxConversionsMatchTheHostWhenADeviceExists()
    {
        var values = Samples().Where(v => !float.IsNaN(v)).ToArray();
        var cuda = IlgpuContexts.TryCreateCuda()!.Value;
        using var context = cuda.Context;
        using var accelerator = cuda.Accelerator;
        using var input = accelerator.Allocate1D(values);
        using var tf32 = accelerator.Allocate1D<uint>(values.Length);
        using var bf16 = accelerator.Allocate1D<uint>(values.Length);
        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<uint>, ArrayView<uint>>(Convert)(values.Length, input.View, tf32.View, bf16.View);
        accelerator.Synchronize();
        var t = tf32.GetAsArray1D();
        var h = bf16.GetAsArray1D();
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i], next = values[(i + 1) % values.Length];
            Assert.True(MmaRounding.Tf32Bits(v) == t[i], $"tf32(0x{Bits(v):X8}): device 0x{t[i]:X8}, host 0x{MmaRounding.Tf32Bits(v):X8}");
            Assert.True(MmaRounding.PackBf16x2(v, next) == h[i], $"bf16x2(0x{Bits(v):X8}, 0x{Bits(next):X8}): device 0x{h[i]:X8}, host 0x{MmaRounding.PackBf16x2(v, next):X8}");
        }
    }

    private static void Convert(Index1D i, ArrayView<float> input, ArrayView<uint> tf32, ArrayView<uint> bf16)
    {
        tf32[i] = MmaRounding.Tf32Bits(input[i]);
        bf16[i] = MmaRounding.PackBf16x2(input[i], input[(i + 1) % input.IntLength]);
    }

    /// <summary>Random bit patterns over every exponent (subnormals, ±∞, NaN included), ties and near-ties.</summary>
    private static IEnumerable<float> Samples()
    {
        var rng = new Random(14);
        for (int i = 0; i < 200_000; i++) yield return BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32));
        for (int e = 1; e < 255; e += 3)
            foreach (uint low in new uint[] { 0, 1, 0x0FFF, 0x1000, 0x1001, 0x3000, 0x7FFF, 0x8000, 0x8001, 0x18000, 0x7FFFFF })
            {
                yield return BitConverter.UInt32BitsToSingle(((uint)e << 23) | low);
                yield return BitConverter.UInt32BitsToSingle(0x8000_0000u | ((uint)e << 23) | low);
            }
        foreach (uint low in new uint[] { 1, 0x1000, 0x7FFF, 0x8000, 0x18000, 0x7FFFFF }) yield return BitConverter.UInt32BitsToSingle(low);
        yield return 0f;
        yield return -0f;
    }

    /// <summary>
    /// v rounded to <paramref name="mantissaBits"/> explicit mantissa bits with float32's exponent range, computed in
    /// double from the definition: q = |v| / ulp(v) is exact in double, rounded to an integer by the tie rule.
    /// </summary>
    private static float Reference(float v, int mantissaBits, bool tiesToEven)
    {
        if (float.IsNaN(v) || float.IsInfinity(v) || v == 0) return v;
        double a = Math.Abs((double)v);
        int e = Math.Max(Math.ILogB(a), -126);
        double ulp = Math.ScaleB(1.0, e - mantissaBits);
        double q = a / ulp;
        double r = tiesToEven ? Math.Round(q, MidpointRounding.ToEven) : Math.Floor(q + 0.5);
        double result = r * ulp;
        float f = result >= Math.ScaleB(1.0, 128) ? float.PositiveInfinity : (float)result;
        return v < 0 ? -f : f;
    }

    private static bool Same(float expected, float actual) =>
        float.IsNaN(expected) ? float.IsNaN(actual) : Bits(expected) == Bits(actual);

    private static uint Bits(float v) => BitConverter.SingleToUInt32Bits(v);
}
