using NeuronEngine.Numerics;

namespace NeuronEngine.Tests.Kernels;

/// <summary>The integer half → float decode (what devices without fp16 run) against System.Half, on every pattern.</summary>
public class HalfBitsTests
{
    [Fact]
    public void EveryPatternDecodesAsSystemHalfDoes()
    {
        for (int b = 0; b <= ushort.MaxValue; b++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)b), actual = HalfBits.ToFloat((ushort)b);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"0x{b:X4}: NaN expected, got {actual}");
            else Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual),
                $"0x{b:X4}: {expected:R} expected, got {actual:R}");
        }
    }
}
