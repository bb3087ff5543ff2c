using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>Element-wise kernels: the residual add and widening 16-bit weights to float32.</summary>
public static class ElementwiseKernels
{
    /// <summary>Residual stream: x[i] += y[i].</summary>
    public static void AddInPlace(Index1D i, ArrayView<float> x, ArrayView<float> y) => x[i] += y[i];

    /// <summary>f32 ← f16 (IEEE half bits): ILGPU.Half widens exactly (cvt.f32.f16 in PTX).</summary>
    public static void WidenF16(Index1D i, ArrayView<ushort> source, ArrayView<float> destination) =>
        destination[i] = Decode.F16(source[i]);

    /// <summary>f32 ← bf16: a bf16 is the top 16 bits of a float32.</summary>
    public static void WidenBF16(Index1D i, ArrayView<ushort> source, ArrayView<float> destination) =>
        destination[i] = Decode.BF16(source[i]);
}

/// <summary>Decoding 16-bit float patterns inside kernels (System.Half does not compile there).</summary>
public static class Decode
{
    public static float F16(ushort bits) => (float)Interop.IntAsFloat(bits);
    public static float BF16(ushort bits) => Interop.IntAsFloat((uint)bits << 16);
}
