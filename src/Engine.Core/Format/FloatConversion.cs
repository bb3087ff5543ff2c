using System.Numerics.Tensors;

namespace NeuronEngine.Format;

/// <summary>Widening and narrowing between float32 and the 16-bit float formats weights and shards use.</summary>
internal static unsafe class FloatConversion
{
    /// <summary>bf16 is the top half of an IEEE float32: widening is a shift.</summary>
    public static float BF16ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>float32 → bf16 with round-to-nearest-even (NaN kept quiet), as PyTorch does.</summary>
    public static ushort FloatToBF16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((u >> 16) | 0x40);
        return (ushort)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
    }

    public static void ToFloat(TensorDType dtype, byte* source, Span<float> destination, string file, string tensor)
    {
        int n = destination.Length;
        switch (dtype)
        {
            case TensorDType.F32:
                new ReadOnlySpan<float>(source, n).CopyTo(destination);
                break;
            case TensorDType.F16:
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(source, n), destination);
                break;
            case TensorDType.BF16:
                var bits = new ReadOnlySpan<ushort>(source, n);
                for (int i = 0; i < n; i++) destination[i] = BF16ToFloat(bits[i]);
                break;
            default:
                throw new SafeTensorsFormatException(file, $"is {dtype}; expected F32, F16 or BF16", tensor);
        }
    }

    /// <summary>Narrows float32 into a 16-bit or 32-bit float destination (round to nearest even).</summary>
    public static void FromFloat(ReadOnlySpan<float> source, TensorDType dtype, byte* destination)
    {
        int n = source.Length;
        switch (dtype)
        {
            case TensorDType.F32:
                source.CopyTo(new Span<float>(destination, n));
                break;
            case TensorDType.F16:
                TensorPrimitives.ConvertToHalf(source, new Span<Half>(destination, n));
                break;
            case TensorDType.BF16:
                var bits = new Span<ushort>(destination, n);
                for (int i = 0; i < n; i++) bits[i] = FloatToBF16(source[i]);
                break;
            default:
                throw new ArgumentException($"cannot store floats as {dtype}");
        }
    }
}
