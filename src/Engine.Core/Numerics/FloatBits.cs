using System.Runtime.CompilerServices;

namespace NeuronEngine.Numerics;

/// <summary>Float ↔ bit pattern for the shared arithmetic (kernels/Engine.Kernels/Shared) on the host; the kernels have their own FloatBits.</summary>
internal static class FloatBits
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ToBits(float value) => BitConverter.SingleToUInt32Bits(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromBits(uint bits) => BitConverter.UInt32BitsToSingle(bits);
}
