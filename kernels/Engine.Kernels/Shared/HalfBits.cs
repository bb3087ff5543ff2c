using System.Runtime.CompilerServices;

namespace NeuronEngine.Numerics;

/// <summary>
/// IEEE binary16 → float32 from the 16-bit pattern with integer operations only: for devices without fp16 (ILGPU refuses
/// to compile its Half type for an OpenCL device lacking cl_khr_fp16, pocl among them), and the same source tested
/// against System.Half on every pattern. Exact: every half is a float.
///   sign s, exponent e (5 bits), mantissa m (10 bits):
///   e = 31        → ±∞ (m = 0) or NaN (payload kept in the top mantissa bits)
///   1 ≤ e ≤ 30    → float bits s | (e − 15 + 127) &lt;&lt; 23 | m &lt;&lt; 13
///   e = 0         → ±m · 2⁻²⁴ (zero or subnormal; the float product is exact, m &lt; 2¹⁰)
/// </summary>
static class HalfBits
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort bits)
    {
        uint sign = (uint)(bits & 0x8000) << 16;
        uint exponent = (uint)(bits >> 10) & 0x1F;
        uint mantissa = (uint)bits & 0x3FF;
        if (exponent == 0x1F) return FloatBits.FromBits(sign | 0x7F800000u | (mantissa << 13));
        if (exponent != 0) return FloatBits.FromBits(sign | ((exponent + 112) << 23) | (mantissa << 13));
        float magnitude = mantissa * 5.9604644775390625e-8f;  // 2⁻²⁴
        return FloatBits.FromBits(sign | FloatBits.ToBits(magnitude));
    }
}
