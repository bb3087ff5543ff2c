using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace NeuronEngine.Corpus;

/// <summary>
/// The tokens of an llm.c .bin file, memory-mapped and read on demand: a real corpus can be many GB,
/// and a dump only ever looks at one batch of windows at a time.
/// </summary>
internal sealed unsafe class MappedTokenFile : ITokenSource
{
    private readonly string _path;
    private readonly int _vocabSize;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly ushort* _tokens;
    private int _disposed;

    private MappedTokenFile(string path, FileStream stream, long tokenCount, int vocabSize)
    {
        _path = path;
        _vocabSize = vocabSize;
        TokenCount = tokenCount;
        _map = MemoryMappedFile.CreateFromFile(
            stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* start = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _tokens = (ushort*)(start + _view.PointerOffset + LlmcTokenFile.HeaderBytes);
    }

    public long TokenCount { get; }

    /// <summary>Checks the header and maps the file. Token ids are checked as windows are read.</summary>
    public static MappedTokenFile Open(string path, int vocabSize)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long tokenCount = ReadHeader(path, stream);
            return new MappedTokenFile(path, stream, tokenCount, vocabSize);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static long ReadHeader(string path, FileStream stream)
    {
        long fileBytes = stream.Length;
        if (fileBytes < LlmcTokenFile.HeaderBytes)
        {
            throw new CorpusException(
                $"corpus {path} is {fileBytes} bytes, shorter than the {LlmcTokenFile.HeaderBytes}-byte llm.c header");
        }
        Span<byte> header = stackalloc byte[3 * sizeof(int)];
        stream.ReadExactly(header);
        int magic = BinaryPrimitives.ReadInt32LittleEndian(header);
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        int tokenCount = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);

        if (magic != LlmcTokenFile.Magic)
        {
            throw new CorpusException(
                $"corpus {path} is not an llm.c token file: magic is {magic}, expected {LlmcTokenFile.Magic}");
        }
        if (version != LlmcTokenFile.Version)
        {
            throw new CorpusException(
                $"corpus {path} has llm.c version {version}; only version {LlmcTokenFile.Version} (uint16 tokens) is supported");
        }
        long expectedBytes = LlmcTokenFile.HeaderBytes + 2L * tokenCount;
        if (tokenCount < 0 || expectedBytes != fileBytes)
        {
            throw new CorpusException(
                $"corpus {path} header says {tokenCount} tokens ({expectedBytes} bytes with the header), but the file is {fileBytes} bytes");
        }
        return tokenCount;
    }

    public void Copy(long firstToken, Span<int> destination)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var source = new ReadOnlySpan<ushort>(_tokens + firstToken, destination.Length);
        for (int i = 0; i < source.Length; i++)
        {
            int id = BitConverter.IsLittleEndian ? source[i] : BinaryPrimitives.ReverseEndianness(source[i]);
            if (id >= _vocabSize)
            {
                throw CorpusReader.TokenOutsideVocabulary(_path, firstToken + i, id, _vocabSize);
            }
            destination[i] = id;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
