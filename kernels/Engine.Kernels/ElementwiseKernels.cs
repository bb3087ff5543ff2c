using ILGPU;
using NeuronEngine.Numerics;

namespace NeuronEngine.Kernels;

/// <summary>Element-wise kernels: the residual add and widening 16-bit weights to float32.</summary>
public static class ElementwiseKernels
{
    /// <summary>Residual stream: x[i] += y[i].</summary>
    public static void AddInPlace(Index1D i, ArrayView<float> x, ArrayView<float> y) => x[i] += y[i];

    /// <summary>f32 ← f16 (IEEE half bits), decoded by <typeparamref name="THalf"/> (both exact).</summary>
    public static void WidenF16<THalf>(Index1D i, ArrayView<ushort> source, ArrayView<float> destination) where THalf : struct, IHalfDecode =>
        destination[i] = default(THalf).ToFloat(source[i]);

    /// <summary>f32 ← bf16: a bf16 is the top 16 bits of a float32.</summary>
    public static void WidenBF16(Index1D i, ArrayView<ushort> source, ArrayView<float> destination) =>
        destination[i] = Decode.BF16(source[i]);
}

/// <summary>Decoding 16-bit float patterns inside kernels (System.Half does not compile there).</summary>
public static class Decode
{
    public static float BF16(ushort bits) => Interop.IntAsFloat((uint)bits << 16);
}

/// <summary>
/// IEEE half → float inside kernels, chosen per accelerator: <see cref="HardwareHalf"/> where the device has fp16 (CUDA:
/// one cvt.f32.f16), <see cref="IntegerHalf"/> where it has not (ILGPU refuses to compile its Half type for an OpenCL
/// device without cl_khr_fp16). Both give the exact float.
/// </summary>
public interface IHalfDecode
{
    float ToFloat(ushort bits);
}

/// <summary>ILGPU.Half widens exactly (cvt.f32.f16 in PTX); needs fp16 support on the device.</summary>
public struct HardwareHalf : IHalfDecode
{
    public readonly float ToFloat(ushort bits) => (float)Interop.IntAsFloat(bits);
}

/// <summary>Integer operations on the bit pattern only (<see cref="HalfBits"/>): runs on any device.</summary>
public struct IntegerHalf : IHalfDecode
{
    public readonly float ToFloat(ushort bits) => HalfBits.ToFloat(bits);
}
