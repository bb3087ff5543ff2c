using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace NeuronEngine.Corpus;

/// <summary>
/// llm.c's token file (.bin): a header of 256 little-endian int32 (magic 20240520, version 1,
/// token count, the rest zero) followed by the tokens as little-endian uint16.
/// </summary>
internal static class LlmcTokenFile
{
    public const int Magic = 20240520;

    /// <summary>Version 1 stores uint16 tokens (GPT-2). llm.c's version 2 (uint32, Llama 3) is not read.</summary>
    public const int Version = 1;

    public const int HeaderInts = 256;
    public const int HeaderBytes = HeaderInts * sizeof(int);

    /// <summary>Writes <paramref name="tokens"/> as a valid llm.c token file, replacing any file at <paramref name="path"/>.</summary>
    public static void Write(string path, ReadOnlySpan<ushort> tokens)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);

        Span<byte> header = stackalloc byte[HeaderBytes];
        header.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(header[0..], Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], Version);
        // A span's length is an int, so the count always fits the header's int32 field.
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], tokens.Length);
        stream.Write(header);

        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(tokens));
            return;
        }

        // Big-endian hosts: swap through a small buffer so the file stays little-endian.
        Span<ushort> swapped = stackalloc ushort[4096];
        for (int start = 0; start < tokens.Length; start += swapped.Length)
        {
            var chunk = tokens.Slice(start, Math.Min(swapped.Length, tokens.Length - start));
            BinaryPrimitives.ReverseEndianness(chunk, swapped);
            stream.Write(MemoryMarshal.AsBytes(swapped[..chunk.Length]));
        }
    }
}
