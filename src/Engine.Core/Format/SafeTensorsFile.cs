using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace NeuronEngine.Format;

/// <summary>
/// A safetensors file opened read-only through a memory map. Tensors are handed out as typed views into the
/// mapping, never copied, so a 6 GB GPT-2 XL checkpoint costs no managed memory to open.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    public string Path { get; }
    public SafeTensorsHeader Header { get; }
    public long DataOffset { get; }

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _base;

    private SafeTensorsFile(string path, SafeTensorsHeader header, long dataOffset, MemoryMappedFile? map, MemoryMappedViewAccessor? view)
    {
        Path = path; Header = header; DataOffset = dataOffset; _map = map; _view = view;
        if (view is not null)
        {
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
            _base += view.PointerOffset;
        }
    }

    public IReadOnlyList<TensorEntry> Entries => Header.Entries;
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new SafeTensorsFormatException(path, "file not found");
        long fileLength = new FileInfo(path).Length;
        if (fileLength < 8) throw new SafeTensorsFormatException(path, $"file is {fileLength} bytes, shorter than the 8-byte header length");
        byte[] json;
        long n;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            Span<byte> len = stackalloc byte[8];
            fs.ReadExactly(len);
            n = (long)BinaryPrimitives.ReadUInt64LittleEndian(len);
            if (n > SafeTensorsHeader.MaxHeaderBytes || n < 2)
                throw new SafeTensorsFormatException(path, $"header length {n} is absurd (expected 2..{SafeTensorsHeader.MaxHeaderBytes})");
            if (8 + n > fileLength)
                throw new SafeTensorsFormatException(path, $"header length {n} runs past the end of the {fileLength}-byte file");
            json = new byte[n];
            fs.ReadExactly(json);
        }
        long dataOffset = 8 + n;
        var header = SafeTensorsHeader.Parse(path, json, fileLength - dataOffset);
        if (fileLength == dataOffset) return new SafeTensorsFile(path, header, dataOffset, null, null);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        return new SafeTensorsFile(path, header, dataOffset, map, view);
    }

    public TensorEntry Get(string name) =>
        Header.Find(name) ?? throw new SafeTensorsFormatException(Path, "not found in the file", name);

    /// <summary>Pointer to the first byte of a tensor's data inside the mapping (valid until Dispose).</summary>
    public byte* Pointer(TensorEntry entry)
    {
        ObjectDisposedException.ThrowIf(_view is null && Header.DataLength > 0, this);
        return _base + DataOffset + entry.Begin;
    }

    /// <summary>A typed view of a tensor; T must have the dtype's size (float for F32, ushort for F16/BF16, int for I32).</summary>
    public ReadOnlySpan<T> Span<T>(TensorEntry entry) where T : unmanaged
    {
        if (sizeof(T) != TensorDTypes.SizeOf(entry.DType))
            throw new SafeTensorsFormatException(Path, $"is {entry.DType}; cannot view it as {typeof(T).Name}", entry.Name);
        if (entry.ElementCount > int.MaxValue)
            throw new SafeTensorsFormatException(Path, "has more than 2^31 elements; use Pointer()", entry.Name);
        return entry.ElementCount == 0 ? default : new ReadOnlySpan<T>(Pointer(entry), (int)entry.ElementCount);
    }

    public ReadOnlySpan<T> Span<T>(string name) where T : unmanaged => Span<T>(Get(name));

    /// <summary>Copies a tensor out as float32, widening F16/BF16 (and reading F32 as is).</summary>
    /// <remarks>The array is pinned so compute code may hold a pointer into it for the file's lifetime.</remarks>
    public float[] ReadAsFloat(TensorEntry entry)
    {
        var result = GC.AllocateUninitializedArray<float>(checked((int)entry.ElementCount), pinned: true);
        FloatConversion.ToFloat(entry.DType, Pointer(entry), result, Path, entry.Name);
        return result;
    }

    public void Dispose()
    {
        if (_view is not null && _base != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _base = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }
}
