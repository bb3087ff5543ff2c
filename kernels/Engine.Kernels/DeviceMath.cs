using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// Math that compiles on every ILGPU backend without ILGPU.Algorithms. Found by compiling to PTX (ILGPU 1.5.3):
/// <list type="bullet">
/// <item><c>MathF.Exp</c> has no PTX lowering unless the context calls <c>EnableAlgorithms()</c> (the compile fails
/// with "The function 'ExpF' does not have an intrinsic implementation"); with it, it becomes ex2.approx.f32.</item>
/// <item><c>MathF.FusedMultiplyAdd</c> compiles, but to a call of an undefined <c>.extern .func FusedMultiplyAdd</c>
/// (with or without Algorithms): the CUDA driver would fail to link the module. The CPU accelerator runs it fine, so
/// only a PTX check catches it.</item>
/// </list>
/// </summary>
public static class DeviceMath
{
    /// <summary>
    /// a·b + c written as a multiply and an add. ILGPU emits <c>mul.f32</c> and <c>add.f32</c> without a rounding
    /// suffix, which PTX allows the assembler to contract into one <c>fma.rn.f32</c> (ptxas does by default), so on
    /// the GPU this is a fused multiply-add; the CPU accelerator (and the .NET JIT) rounds twice. Either way it is
    /// within an ulp of the fused result per step.
    /// </summary>
    public static float MulAdd(float a, float b, float c) => a * b + c;

    private const float Log2E = 1.44269504088896341f;
    // ln 2 split in two (Cody–Waite): Ln2Hi has few significant bits, so k·Ln2Hi is exact for |k| ≤ 2^11.
    private const float Ln2Hi = 0.693145751953125f;
    private const float Ln2Lo = 1.42860682030941723e-6f;

    /// <summary>
    /// e^x in float, within ~2 ulp of the correctly rounded result over the whole range:
    ///   k = round(x·log2 e),  r = x − k·ln 2 ∈ [−0.347, 0.347],  e^x = 2^k · e^r
    /// e^r by its degree-7 Taylor polynomial (truncation ≤ r⁸/8! ≈ 5e-9 relative, under one ulp), Horner.
    /// Ln2Hi has 15 significant bits and |k| ≤ 150, so k·Ln2Hi and x − k·Ln2Hi are exact without an FMA.
    /// 2^k is built from exponent bits in two halves, so k = 128 (x near 88.7) and k down to −150 (subnormal
    /// results) stay representable. x &gt; 88.73 gives +∞, x &lt; −104 (and −∞) gives 0, NaN stays NaN.
    /// </summary>
    public static float Exp(float x)
    {
        if (x > 88.7228394f) return float.PositiveInfinity;
        if (x < -104f) return 0f;
        float t = x * Log2E;
        int k = (int)(t + (t >= 0f ? 0.5f : -0.5f));  // round half away from zero; NaN lands anywhere, r stays NaN
        float kf = k;
        float r = MulAdd(-kf, Ln2Hi, x);
        r = MulAdd(-kf, Ln2Lo, r);
        float p = 1f / 5040f;
        p = MulAdd(p, r, 1f / 720f);
        p = MulAdd(p, r, 1f / 120f);
        p = MulAdd(p, r, 1f / 24f);
        p = MulAdd(p, r, 1f / 6f);
        p = MulAdd(p, r, 0.5f);
        p = MulAdd(p, r, 1f);
        p = MulAdd(p, r, 1f);
        int k1 = k >> 1, k2 = k - k1;                     // each in [−75, 64]: a normal power of two
        return p * Interop.IntAsFloat((uint)(k1 + 127) << 23) * Interop.IntAsFloat((uint)(k2 + 127) << 23);
    }
}
