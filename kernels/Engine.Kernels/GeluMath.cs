using System.Runtime.CompilerServices;
using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// GPT-2's tanh GELU ("gelu_new") for use inside kernels:
///     gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
/// tanh is built from exp, because MathF.Tanh / XMath.Tanh compile to PTX's tanh.approx.f32 (≈ 2⁻¹¹ relative
/// error), far from the ~1e-6 agreement with the CPU reference (CpuMath.Gelu, exact MathF.Tanh) we need. And exp is
/// built from arithmetic (<see cref="DeviceMath.Exp"/>, the one exp of the kernels): ILGPU's PTX backend has no exact exp (MathF.Exp fails to compile
/// without ILGPU.Algorithms — "ExpF does not have an intrinsic implementation" — and with it becomes ex2.approx.f32),
/// while multiply, add, IEEE division (div.rn.f32) and float↔int conversions are exact on every backend. (ptxas may
/// fuse a multiply and an add into one FMA on the GPU: results can differ from the CPU accelerator in the last
/// bit, not in accuracy.)
/// </summary>
public static class GeluMath
{
    /// <summary>√(2/π) (same float as CpuMath.GeluScale).</summary>
    public const float Scale = 0.7978845608028654f;

    /// <summary>
    /// Beyond |u| = 10, tanh(u) rounds to ±1 in float (1 − tanh(10) ≈ 4e-9 &lt; half an ulp of 1), so we return ±1
    /// there and never evaluate exp(2u) for huge u (no inf/inf, no NaN for |x| = 100 where x³ = 1e6).
    /// </summary>
    private const float SaturateAt = 10f;

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), evaluated in the same order as CpuMath.Gelu.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gelu(float x)
    {
        float u = Scale * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1f + Tanh(u));
    }

    /// <summary>
    /// tanh(u) = 1 − 2/(exp(2u) + 1): within a few ulp of 1 (absolute) for all u; the cancellation near u = 0 costs
    /// absolute error ~1e-7, which the "1 + tanh" of GELU absorbs anyway. ±1 for |u| &gt; 10, so exp only sees
    /// |2u| ≤ 20, far inside the range where DeviceMath.Exp needs neither its overflow nor its underflow branch.
    /// A relative error δ in exp moves tanh by at most δ/2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float u)
    {
        if (u > SaturateAt) return 1f;
        if (u < -SaturateAt) return -1f;
        return 1f - 2f / (DeviceMath.Exp(2f * u) + 1f);
    }
}
