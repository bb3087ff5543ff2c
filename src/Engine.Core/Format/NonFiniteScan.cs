using System.Numerics;
using System.Runtime.InteropServices;

namespace NeuronEngine.Format;

/// <summary>
/// Finds NaN or ±Inf in float tensors without converting them: a value is non-finite exactly when its exponent bits
/// are all ones, so F32 is tested as uint (mask 0x7F800000), F16 and BF16 as ushort (0x7C00, 0x7F80), a
/// <see cref="Vector{T}"/> at a time. A clean tensor is read once at memory speed; only a hit is located element by element.
/// </summary>
internal static unsafe class NonFiniteScan
{
    /// <summary>Index of the first NaN/Inf among <paramref name="count"/> values of <paramref name="dtype"/> at <paramref name="data"/>, or -1.</summary>
    public static long FirstNonFinite(byte* data, long count, TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => First<uint>((uint*)data, count, 0x7F80_0000u),
        TensorDType.F16 => First<ushort>((ushort*)data, count, (ushort)0x7C00),
        TensorDType.BF16 => First<ushort>((ushort*)data, count, (ushort)0x7F80),
        _ => -1,
    };

    /// <summary>Describes the value at <paramref name="index"/> ("NaN", "+Inf", "-Inf").</summary>
    public static string Describe(byte* data, long index, TensorDType dtype)
    {
        float v = dtype switch
        {
            TensorDType.F32 => ((float*)data)[index],
            TensorDType.F16 => (float)((Half*)data)[index],
            _ => BitConverter.Int32BitsToSingle(((ushort*)data)[index] << 16),
        };
        return float.IsNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
    }

    private const int Chunk = 1 << 22; // elements per task: large enough to amortise, small enough to spread over cores

    private static long First<T>(T* data, long count, T mask) where T : unmanaged, IBinaryInteger<T>
    {
        if (count <= Chunk) return FirstInRange(data, 0, count, mask);
        int chunks = (int)((count + Chunk - 1) / Chunk);
        long first = long.MaxValue;
        Parallel.For(0, chunks, (c, state) =>
        {
            long start = (long)c * Chunk;
            if (start > Interlocked.Read(ref first)) return;
            long hit = FirstInRange(data, start, Math.Min(Chunk, count - start), mask);
            if (hit < 0) return;
            long seen;
            while (hit < (seen = Interlocked.Read(ref first)) && Interlocked.CompareExchange(ref first, hit, seen) != seen) { }
        });
        return first == long.MaxValue ? -1 : first;
    }

    private static long FirstInRange<T>(T* data, long start, long length, T mask) where T : unmanaged, IBinaryInteger<T>
    {
        var span = new ReadOnlySpan<T>(data + start, checked((int)length));
        var vmask = new Vector<T>(mask);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vectors = MemoryMarshal.Cast<T, Vector<T>>(span);
            for (int v = 0; v < vectors.Length; v++)
                if (Vector.EqualsAny(vectors[v] & vmask, vmask)) { i = v * Vector<T>.Count; goto Scalar; }
            i = vectors.Length * Vector<T>.Count;
        }
    Scalar:
        for (; i < span.Length; i++)
            if ((span[i] & mask) == mask) return start + i;
        return -1;
    }
}
