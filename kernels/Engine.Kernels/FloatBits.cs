using System.Runtime.CompilerServices;
using ILGPU;

namespace NeuronEngine.Numerics;

/// <summary>
/// Float ↔ bit pattern for the shared arithmetic (Shared/*.cs) inside kernels: ILGPU's <see cref="Interop"/> compiles
/// to a plain register move on every backend (BitConverter does not compile to PTX). Core has its own FloatBits.
/// </summary>
internal static class FloatBits
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ToBits(float value) => Interop.FloatAsInt(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromBits(uint bits) => Interop.IntAsFloat(bits);
}
