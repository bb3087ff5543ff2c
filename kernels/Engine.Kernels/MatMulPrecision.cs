using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace NeuronEngine.Kernels;

/// <summary>
/// The precision of the forward pass's four GEMMs (qkv, attention output, MLP up, MLP down); everything else
/// (embedding, LayerNorm, attention, GELU, residual, records) stays float32 whatever is chosen.
/// </summary>
public enum MatMulPrecision
{
    /// <summary>float32 inputs, float32 FMA chains: the default and the reference.</summary>
    Fp32 = 0,

    /// <summary>Inputs rounded to TF32 (8-bit exponent, 10-bit mantissa) as cvt.rna.tf32.f32 does, products summed in float32.</summary>
    Tf32 = 1,

    /// <summary>Inputs rounded to bfloat16 (8-bit exponent, 7-bit mantissa) as cvt.rn.bf16x2.f32 does, products summed in float32.</summary>
    Bf16 = 2,
}

/// <summary>The names `--precision` takes (fp32, tf32, bf16) and their parsing.</summary>
public static class MatMulPrecisions
{
    public static readonly string[] Names = ["fp32", "tf32", "bf16"];

    public static string Name(this MatMulPrecision precision) => Names[(int)precision];

    /// <summary>Parses fp32|tf32|bf16 (case-insensitive); throws ArgumentException naming the option otherwise.</summary>
    public static MatMulPrecision Parse(string text, string option = "--precision")
    {
        int i = Array.FindIndex(Names, n => string.Equals(n, text.Trim(), StringComparison.OrdinalIgnoreCase));
        return i >= 0 ? (MatMulPrecision)i : throw new ArgumentException($"{option}: '{text}' is not {string.Join(", ", Names)}");
    }
}

/// <summary>
/// How the tensor-core GEMMs round their float32 inputs, in one place for the kernels (device code: the staging of
/// <see cref="TensorCoreGemmKernel"/>, and <see cref="TensorCoreMma"/>'s emulation of mma.sync) and for the managed
/// `cpu` device's emulation of those precisions (CpuMath.MatMulBias), so both round identically by construction.
/// On CUDA (<c>CudaAsm.IsSupported</c>, a constant once a kernel is specialised) the conversions are those PTX
/// instructions themselves; everywhere else (the host, ILGPU's CPU accelerator) integer arithmetic on the bit pattern
/// that gives the same result for every non-NaN input (a NaN stays a NaN, its payload may differ).
/// <list type="bullet">
/// <item>TF32 = PTX's <c>cvt.rna.tf32.f32</c>: round to nearest with ties away from zero at mantissa bit 13, the low 13
/// bits then zero (what CUTLASS calls round_half_ulp_truncate; the tensor core ignores those bits). On a finite value
/// that is (u + 0x1000) &amp; 0xFFFFE000 of its bits: the sign is separate, so adding half an ulp to the magnitude and
/// truncating rounds ties away from zero, and a carry out of the mantissa steps the exponent (to ∞ past the largest
/// TF32). ±∞ stays ±∞, NaN stays a (quiet) NaN.</item>
/// <item>bf16 = PTX's <c>cvt.rn.bf16.f32</c> / <c>cvt.rn.bf16x2.f32</c>: round to nearest, ties to even, on the upper
/// 16 bits: (u + 0x7FFF + ((u &gt;&gt; 16) &amp; 1)) &gt;&gt; 16; overflow rounds to ∞; NaN stays a quiet NaN. A bf16
/// checkpoint's weights, widened to float32 on upload, round back to exactly their stored values, so such weights are
/// used as stored.</item>
/// </list>
/// Products of two TF32 values (11 × 11 significant bits) or two bf16 values (8 × 8) are exact in float32, so an FMA
/// chain over rounded inputs is bit-identical to a multiply-then-add chain: the rounding here and the order of the
/// sum are all that decide a result.
/// </summary>
public static class MmaRounding
{
    private const uint ExponentMask = 0x7F80_0000u;

    /// <summary>The bits of <paramref name="value"/> rounded to TF32 (cvt.rna.tf32.f32), low 13 bits zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Tf32Bits(float value)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rna.tf32.f32 %0, %1;", out uint r, value);
            return r;
        }
        // ±∞ and finite values: one formula (∞ has no mantissa bit to carry). NaN: set the quiet bit instead, so that a
        // payload in the low bits alone can neither vanish (→ ∞) nor carry into the sign. A select, not a branch.
        uint u = Interop.FloatAsInt(value);
        return ((u & 0x7FFF_FFFFu) > ExponentMask ? u | 0x0040_0000u : u + 0x1000u) & 0xFFFF_E000u;
    }

    /// <summary><paramref name="value"/> rounded to TF32, as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundTf32(float value) => Interop.IntAsFloat(Tf32Bits(value));

    /// <summary>The 16-bit bfloat16 pattern of <paramref name="value"/> rounded to nearest even (cvt.rn.bf16.f32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bf16Bits(float value)
    {
        uint u = Interop.FloatAsInt(value);
        return ((u & 0x7FFF_FFFFu) > ExponentMask ? u | 0x0040_0000u : u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    }

    /// <summary><paramref name="value"/> rounded to bfloat16, as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundBf16(float value) => Interop.IntAsFloat(Bf16Bits(value) << 16);

    /// <summary>
    /// Two values rounded to bfloat16 in one 32-bit word, <paramref name="low"/> in bits 0–15 and
    /// <paramref name="high"/> in bits 16–31: the .bf16x2 operand layout of mma.sync ("elements low to high"), as
    /// <c>cvt.rn.bf16x2.f32 d, high, low</c> packs it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint PackBf16x2(float low, float high)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rn.bf16x2.f32 %0, %1, %2;", out uint r, high, low);
            return r;
        }
        return Bf16Bits(low) | (Bf16Bits(high) << 16);
    }

    /// <summary>The low (even-k) element of a .bf16x2 word, as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16Low(uint word) => Interop.IntAsFloat(word << 16);

    /// <summary>The high (odd-k) element of a .bf16x2 word, as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16High(uint word) => Interop.IntAsFloat(word & 0xFFFF_0000u);

    /// <summary>A .tf32 operand word as the tensor core reads it: the low 13 bits ignored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tf32Operand(uint word) => Interop.IntAsFloat(word & 0xFFFF_E000u);

    /// <summary><paramref name="value"/> rounded as <paramref name="precision"/>'s GEMM inputs are (Fp32: unchanged).</summary>
    public static float Round(float value, MatMulPrecision precision) => precision switch
    {
        MatMulPrecision.Tf32 => RoundTf32(value),
        MatMulPrecision.Bf16 => RoundBf16(value),
        _ => value,
    };
}
