using NeuronEngine.Format;

namespace NeuronEngine.Tests.Format;

/// <summary>The finiteness scan of weights: NaN and ±Inf found in every float dtype, at any position, vectorised or not.</summary>
public unsafe class NonFiniteScanTests
{
    public static TheoryData<string, int, int> Positions => new()
    {
        // dtype, length, position of the bad value (-1: none)
        { "F32", 1, -1 }, { "F32", 1, 0 }, { "F32", 37, 36 }, { "F32", 1000, 511 }, { "F16", 1000, 999 }, { "BF16", 1000, 3 },
        { "F32", (1 << 22) * 2 + 7, (1 << 22) + 5 }, // several parallel chunks; the first bad value wins
        { "F16", (1 << 22) + 3, (1 << 22) + 2 },     // in the scalar tail of the last chunk
        { "BF16", 5_000_000, -1 },
    };

    [Theory, MemberData(nameof(Positions))]
    public void FindsTheFirstNonFiniteValue(string dtypeName, int length, int bad)
    {
        var dtype = Enum.Parse<TensorDType>(dtypeName);
        foreach (float poison in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var values = Enumerable.Range(0, length).Select(i => (float)Math.Sin(i) * 1e4f).ToArray(); // large but finite in every dtype
            if (bad >= 0)
            {
                values[bad] = poison;
                if (bad + 1 < length) values[length - 1] = poison; // a later one too: the first is reported
            }
            var bytes = new byte[length * TensorDTypes.SizeOf(dtype)];
            fixed (byte* p = bytes)
            {
                FloatConversion.FromFloat(values, dtype, p);
                long found = NonFiniteScan.FirstNonFinite(p, length, dtype);
                Assert.Equal(bad, found);
                if (bad >= 0)
                    Assert.Equal(float.IsNaN(poison) ? "NaN" : poison > 0 ? "+Inf" : "-Inf", NonFiniteScan.Describe(p, found, dtype));
            }
        }
    }

    [Fact]
    public void TheLargestFiniteValuesAreFinite()
    {
        float[] edge = [float.MaxValue, float.MinValue, float.Epsilon, -0f, 65504f, -65504f];
        fixed (float* p = edge) Assert.Equal(-1, NonFiniteScan.FirstNonFinite((byte*)p, edge.Length, TensorDType.F32));
        var half = new Half[] { Half.MaxValue, Half.MinValue, Half.Epsilon };
        fixed (Half* p = half) Assert.Equal(-1, NonFiniteScan.FirstNonFinite((byte*)p, half.Length, TensorDType.F16));
        ushort[] bf16 = [0x7F7F, 0xFF7F, 0x0001]; // bfloat16 max, min, smallest subnormal
        fixed (ushort* p = bf16) Assert.Equal(-1, NonFiniteScan.FirstNonFinite((byte*)p, bf16.Length, TensorDType.BF16));
    }
}
