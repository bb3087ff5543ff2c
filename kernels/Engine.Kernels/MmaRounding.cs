using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;
using NeuronEngine.Numerics;

namespace NeuronEngine.Kernels;

/// <summary>
/// The tensor-core kernels' input rounding and .bf16x2/.tf32 operand words. On CUDA (<c>CudaAsm.IsSupported</c>, a
/// constant once a kernel is specialised) the conversions are the PTX instructions themselves; everywhere else (ILGPU's
/// CPU accelerator, the host) the integer arithmetic of <see cref="TensorCoreRounding"/> (Shared/), the very source the
/// `cpu` device's tf32/bf16 GEMMs round with, which gives the same result for every non-NaN input.
/// </summary>
public static class MmaRounding
{
    /// <summary>The bits of <paramref name="value"/> rounded to TF32 (cvt.rna.tf32.f32), low 13 bits zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Tf32Bits(float value)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rna.tf32.f32 %0, %1;", out uint r, value);
            return r;
        }
        return TensorCoreRounding.Tf32Bits(value);
    }

    /// <summary><paramref name="value"/> rounded to TF32, as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundTf32(float value) => Interop.IntAsFloat(Tf32Bits(value));

    /// <summary>The 16-bit bfloat16 pattern of <paramref name="value"/> rounded to nearest even (cvt.rn.bf16.f32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bf16Bits(float value) => TensorCoreRounding.Bf16Bits(value);

    /// <summary><paramref name="value"/> rounded to bfloat16, as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundBf16(float value) => TensorCoreRounding.RoundBf16(value);

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
        return TensorCoreRounding.Bf16Bits(low) | (TensorCoreRounding.Bf16Bits(high) << 16);
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
}
