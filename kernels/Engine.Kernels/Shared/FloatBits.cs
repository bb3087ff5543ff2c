using System.Runtime.CompilerServices;

namespace NeuronEngine.Numerics;

/// <summary>
/// Float ↔ bit pattern for the shared arithmetic. Inside kernels (ENGINE_KERNELS, set by Engine.Kernels) it is ILGPU's
/// Interop, a plain register move on every backend (BitConverter does not compile to PTX); in Core, which carries no
/// ILGPU, it is BitConverter. Both are the identity on the 32 bits.
/// </summary>
static class FloatBits
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
#if ENGINE_KERNELS
    public static uint ToBits(float value) => ILGPU.Interop.FloatAsInt(value);
#else
    public static uint ToBits(float value) => BitConverter.SingleToUInt32Bits(value);
#endif

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
#if ENGINE_KERNELS
    public static float FromBits(uint bits) => ILGPU.Interop.IntAsFloat(bits);
#else
    public static float FromBits(uint bits) => BitConverter.UInt32BitsToSingle(bits);
#endif
}
