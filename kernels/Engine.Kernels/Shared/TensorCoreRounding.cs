using System.Runtime.CompilerServices;

namespace NeuronEngine.Numerics;

/// <summary>
/// How the tensor-core GEMMs round their float32 inputs, as integer arithmetic on the bit pattern: one source for the
/// kernels' emulation of mma.sync off CUDA (MmaRounding, which on CUDA emits the PTX conversions themselves) and for the
/// managed `cpu` device's tf32/bf16 GEMMs (CpuMath), so both round identically by construction. Exact for every
/// non-NaN input; a NaN stays a (quiet) NaN, its payload may differ from the hardware's.
/// <list type="bullet">
/// <item>TF32 = PTX's <c>cvt.rna.tf32.f32</c>: round to nearest with ties away from zero at mantissa bit 13, the low 13
/// bits then zero (what CUTLASS calls round_half_ulp_truncate; the tensor core ignores those bits). On a finite value
/// that is (u + 0x1000) &amp; 0xFFFFE000 of its bits: the sign is separate, so adding half an ulp to the magnitude and
/// truncating rounds ties away from zero, and a carry out of the mantissa steps the exponent (to ∞ past the largest
/// TF32). ±∞ stays ±∞.</item>
/// <item>bf16 = PTX's <c>cvt.rn.bf16.f32</c>: round to nearest, ties to even, on the upper 16 bits:
/// (u + 0x7FFF + ((u &gt;&gt; 16) &amp; 1)) &gt;&gt; 16; overflow rounds to ∞. A bf16 checkpoint's weights, widened to
/// float32 on upload, round back to exactly their stored values.</item>
/// </list>
/// Products of two TF32 values (11 × 11 significant bits) or two bf16 values (8 × 8) are exact in float32, so an FMA
/// chain over rounded inputs is bit-identical to a multiply-then-add chain: the rounding here and the order of the
/// sum are all that decide a result.
/// </summary>
static class TensorCoreRounding
{
    private const uint ExponentMask = 0x7F80_0000u;

    /// <summary>The bits of <paramref name="value"/> rounded to TF32, low 13 bits zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Tf32Bits(float value)
    {
        // ±∞ and finite values: one formula (∞ has no mantissa bit to carry). NaN: set the quiet bit instead, so that a
        // payload in the low bits alone can neither vanish (→ ∞) nor carry into the sign. A select, not a branch.
        uint u = FloatBits.ToBits(value);
        return ((u & 0x7FFF_FFFFu) > ExponentMask ? u | 0x0040_0000u : u + 0x1000u) & 0xFFFF_E000u;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundTf32(float value) => FloatBits.FromBits(Tf32Bits(value));

    /// <summary>The 16-bit bfloat16 pattern of <paramref name="value"/> rounded to nearest even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bf16Bits(float value)
    {
        uint u = FloatBits.ToBits(value);
        return ((u & 0x7FFF_FFFFu) > ExponentMask ? u | 0x0040_0000u : u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundBf16(float value) => FloatBits.FromBits(Bf16Bits(value) << 16);
}
