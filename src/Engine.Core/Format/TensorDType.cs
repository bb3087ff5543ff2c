namespace NeuronEngine.Format;

/// <summary>The element types a safetensors file may declare (the names are the format's own).</summary>
public enum TensorDType { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64 }

public static class TensorDTypes
{
    public static int SizeOf(TensorDType dtype) => dtype switch
    {
        TensorDType.BOOL or TensorDType.U8 or TensorDType.I8 => 1,
        TensorDType.I16 or TensorDType.U16 or TensorDType.F16 or TensorDType.BF16 => 2,
        TensorDType.I32 or TensorDType.U32 or TensorDType.F32 => 4,
        TensorDType.I64 or TensorDType.U64 or TensorDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Parses a dtype name exactly as safetensors spells it ("F32", "BF16", …); null if unknown.</summary>
    public static TensorDType? TryParse(string name) =>
        Enum.TryParse<TensorDType>(name, ignoreCase: false, out var d) && Enum.IsDefined(d) && name == d.ToString() ? d : null;

    /// <summary>Parses the user-facing names f32 / f16 / bf16 (case-insensitive).</summary>
    public static TensorDType ParseFloat(string name) => name.ToLowerInvariant() switch
    {
        "f32" or "float32" => TensorDType.F32,
        "f16" or "float16" => TensorDType.F16,
        "bf16" or "bfloat16" => TensorDType.BF16,
        _ => throw new ArgumentException($"unknown float dtype '{name}' (expected f32, f16 or bf16)"),
    };
}
