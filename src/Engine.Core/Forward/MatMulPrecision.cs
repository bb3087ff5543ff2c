namespace NeuronEngine.Forward;

/// <summary>
/// The precision of the forward pass's four GEMMs (qkv, attention output, MLP up, MLP down); everything else
/// (embedding, LayerNorm, attention, GELU, residual, records) stays float32 whatever is chosen. How tf32 and bf16 round
/// their inputs: NeuronEngine.Numerics.TensorCoreRounding (shared with the tensor-core kernels).
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
