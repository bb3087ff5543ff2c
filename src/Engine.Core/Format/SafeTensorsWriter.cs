using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace NeuronEngine.Format;

/// <summary>
/// Writes a safetensors file atomically: the whole file is preallocated (its blocks reserved, see
/// <see cref="IO.DiskSpace.Reserve"/>) as <c>path.tmp</c>, the header written,
/// the caller fills each tensor in place through the memory map, and <see cref="Commit"/> flushes to disk and
/// renames into place. A writer disposed without Commit deletes its temp file, so a crash never leaves a
/// half-written file under the final name.
/// </summary>
internal sealed unsafe class SafeTensorsWriter : IDisposable
{
    public string Path { get; }
    public string TempPath { get; }
    public SafeTensorsHeader Header { get; }

    private readonly FileStream _stream;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long _dataOffset;
    private byte* _base;
    private bool _committed;

    private SafeTensorsWriter(string path, SafeTensorsHeader header)
    {
        Path = path;
        Header = header;
        TempPath = path + ".tmp";
        var json = header.ToPaddedJson();
        _dataOffset = 8 + json.Length;
        long total = _dataOffset + header.DataLength;
        _stream = new FileStream(TempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        try
        {
            // Every block is allocated before the map is made: a store into a hole of a sparse file on a full disk
            // would kill the process with SIGBUS; this way a full disk is an IOException here.
            IO.DiskSpace.Reserve(_stream, Path, total);
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)json.Length);
            _stream.Write(len);
            _stream.Write(json);
            _stream.Flush();
            if (header.DataLength > 0)
            {
                _map = MemoryMappedFile.CreateFromFile(_stream, null, total, MemoryMappedFileAccess.ReadWrite,
                    HandleInheritability.None, leaveOpen: true);
                _view = _map.CreateViewAccessor(0, total, MemoryMappedFileAccess.ReadWrite);
                _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
                _base += _view.PointerOffset;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Starts a file laid out by <paramref name="header"/> (see <see cref="SafeTensorsHeader.Layout"/>).</summary>
    public static SafeTensorsWriter Create(string path, SafeTensorsHeader header) => new(path, header);

    public byte* Pointer(string name)
    {
        var e = Header.Find(name) ?? throw new ArgumentException($"{Path}: no tensor '{name}' in this file's layout");
        return _base + _dataOffset + e.Begin;
    }

    /// <summary>Writable typed view of one tensor (T's size must match the dtype).</summary>
    public Span<T> Span<T>(string name) where T : unmanaged
    {
        var e = Header.Find(name) ?? throw new ArgumentException($"{Path}: no tensor '{name}' in this file's layout");
        if (sizeof(T) != TensorDTypes.SizeOf(e.DType))
            throw new ArgumentException($"{Path}: tensor '{name}' is {e.DType}; cannot view it as {typeof(T).Name}");
        return e.ElementCount == 0 ? default : new Span<T>(_base + _dataOffset + e.Begin, checked((int)e.ElementCount));
    }

    /// <summary>Writes float32 values into a float tensor of any float dtype, starting at element <paramref name="offset"/>.</summary>
    public void WriteFloats(string name, long offset, ReadOnlySpan<float> values)
    {
        var e = Header.Find(name) ?? throw new ArgumentException($"{Path}: no tensor '{name}' in this file's layout");
        if (offset < 0 || offset + values.Length > e.ElementCount)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{Path}: write past the end of tensor '{name}'");
        FloatConversion.FromFloat(values, e.DType, Pointer(name) + offset * TensorDTypes.SizeOf(e.DType));
    }

    /// <summary>Flushes the data to disk and renames the temp file to its final name.</summary>
    public void Commit()
    {
        _view?.Flush();
        ReleaseMap();
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(TempPath, Path, overwrite: true);
        _committed = true;
    }

    private void ReleaseMap()
    {
        if (_view is not null && _base != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _base = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }

    public void Dispose()
    {
        if (_committed) return;
        ReleaseMap();
        _stream.Dispose();
        try { File.Delete(TempPath); } catch (IOException) { }
        _committed = true;
    }

    /// <summary>Convenience: writes whole tensors given as byte arrays (tests, small files).</summary>
    public static void WriteAll(string path, IEnumerable<(string Name, TensorDType DType, long[] Shape, byte[] Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = SafeTensorsHeader.Layout(list.Select(t => (t.Name, t.DType, t.Shape)), metadata);
        using var w = Create(path, header);
        foreach (var t in list)
        {
            var e = header.Find(t.Name)!;
            if (t.Data.Length != e.ByteLength)
                throw new ArgumentException($"{path}: tensor '{t.Name}' data has {t.Data.Length} bytes, its shape needs {e.ByteLength}");
            t.Data.CopyTo(new Span<byte>(w.Pointer(t.Name), t.Data.Length));
        }
        w.Commit();
    }
}
