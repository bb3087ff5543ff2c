using System.Runtime.CompilerServices;
using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// Device copy of NeuronEngine.Records.RecordKeys (the kernels cannot call BitConverter): the same keys, bit for bit
/// (a test checks it). A reservoir keeps the smallest keys; the window index in the low 32 bits makes keys unique.
///   top-k:   key = (~ordered(max) &lt;&lt; 32) | window      (larger maximum first, ties → lower window)
///   samples: key = (hash(seed, layer, neuron, window, salt) &lt;&lt; 32) | window
/// </summary>
public static class RecordKeyMath
{
    public const ulong Empty = ulong.MaxValue;
    public const uint RandomSalt = 0x52414E44, QuantileSalt = 0x5155414E;

    /// <summary>uint whose unsigned order is the float order: flip every bit of negatives, only the sign bit of positives.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint OrderedBits(float value)
    {
        uint u = Interop.FloatAsInt(value);
        return (u & 0x80000000u) != 0 ? ~u : u | 0x80000000u;
    }

    /// <summary>−0 counts as +0 (a maximum of −0 ties with one of +0, as numbers do).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong TopKey(float windowMax, uint window) => ((ulong)~OrderedBits(windowMax == 0f ? 0f : windowMax) << 32) | window;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SampleKey(uint hash, uint window) => ((ulong)hash << 32) | window;

    /// <summary>SplitMix64-finalised fold of the inputs (see RecordKeys.Hash).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(ulong seed, int layer, int neuron, uint window, uint salt)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL ^ salt;
        z = Mix(z + (ulong)(uint)layer * 0xBF58476D1CE4E5B9UL);
        z = Mix(z + (ulong)(uint)neuron * 0x94D049BB133111EBUL);
        z = Mix(z + window * 0x9E3779B97F4A7C15UL);
        return (uint)(z >> 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
