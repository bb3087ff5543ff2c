using System.Text.Json;

namespace NeuronEngine.Format;

/// <summary>
/// The JSON header of a safetensors file: <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}</c>.
/// Parsing validates everything the format promises, so a reader can trust every entry it hands out.
/// </summary>
public sealed class SafeTensorsHeader
{
    /// <summary>Headers above this size are treated as corrupt (the format's own reader uses the same bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;
    public const string MetadataKey = "__metadata__";

    public IReadOnlyList<TensorEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    private readonly Dictionary<string, TensorEntry> _byName;

    public SafeTensorsHeader(IReadOnlyList<TensorEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        Entries = entries;
        Metadata = metadata;
        _byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    public TensorEntry? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Total bytes of tensor data the header describes.</summary>
    public long DataLength => Entries.Count == 0 ? 0 : Entries.Max(e => e.End);

    /// <summary>Parses and validates a header against the number of data bytes that follow it in the file.</summary>
    public static SafeTensorsHeader Parse(string file, ReadOnlySpan<byte> json, long dataBytesInFile)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json.ToArray()); }
        catch (JsonException e) { throw new SafeTensorsFormatException(file, $"header is not valid JSON ({e.Message})"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException(file, "header is not a JSON object");
            var entries = new List<TensorEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new SafeTensorsFormatException(file, "appears twice in the header", prop.Name);
                if (prop.Name == MetadataKey) ReadMetadata(file, prop.Value, metadata);
                else entries.Add(ReadEntry(file, prop.Name, prop.Value));
            }
            ValidateLayout(file, entries, dataBytesInFile);
            return new SafeTensorsHeader(entries, metadata);
        }
    }

    private static void ReadMetadata(string file, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException(file, "__metadata__ must be an object of strings");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new SafeTensorsFormatException(file, $"__metadata__ value of '{m.Name}' is not a string");
            metadata[m.Name] = m.Value.GetString()!;
        }
    }

    private static TensorEntry ReadEntry(string file, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException(file, "entry is not an object", name);
        if (!value.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new SafeTensorsFormatException(file, "missing string 'dtype'", name);
        var dtype = TensorDTypes.TryParse(dt.GetString()!)
            ?? throw new SafeTensorsFormatException(file, $"unknown dtype '{dt.GetString()}'", name);
        if (!value.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new SafeTensorsFormatException(file, "missing array 'shape'", name);
        var shape = sh.EnumerateArray().Select(d =>
            d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out var v) && v >= 0
                ? v : throw new SafeTensorsFormatException(file, $"shape holds '{d}', not a non-negative integer", name)).ToArray();
        if (!value.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new SafeTensorsFormatException(file, "'data_offsets' must be [begin, end]", name);
        long Offset(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) && v >= 0
            ? v : throw new SafeTensorsFormatException(file, $"data_offsets holds '{e}', not a non-negative integer", name);
        long begin = Offset(off[0]), end = Offset(off[1]);
        if (end < begin) throw new SafeTensorsFormatException(file, $"data_offsets [{begin}, {end}] end before begin", name);
        var entry = new TensorEntry(name, dtype, shape, begin, end);
        long expected;
        try { expected = checked(entry.ElementCount * TensorDTypes.SizeOf(dtype)); }
        catch (OverflowException) { throw new SafeTensorsFormatException(file, $"shape {entry.ShapeText} is absurdly large", name); }
        if (expected != end - begin)
            throw new SafeTensorsFormatException(file,
                $"holds {end - begin} bytes but shape {entry.ShapeText} of {dtype} needs {expected}", name);
        return entry;
    }

    /// <summary>Tensors must tile the data area exactly: sorted by offset, no overlap, no gap, nothing past the end.</summary>
    private static void ValidateLayout(string file, List<TensorEntry> entries, long dataBytesInFile)
    {
        long cursor = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < cursor)
                throw new SafeTensorsFormatException(file, $"data_offsets [{e.Begin}, {e.End}] overlap the previous tensor (which ends at {cursor})", e.Name);
            if (e.Begin > cursor)
                throw new SafeTensorsFormatException(file, $"data_offsets [{e.Begin}, {e.End}] leave a gap after byte {cursor}", e.Name);
            if (e.End > dataBytesInFile)
                throw new SafeTensorsFormatException(file, $"data_offsets [{e.Begin}, {e.End}] run past the end of the data ({dataBytesInFile} bytes): the file is truncated", e.Name);
            cursor = e.End;
        }
        if (cursor != dataBytesInFile)
            throw new SafeTensorsFormatException(file, $"{dataBytesInFile - cursor} trailing bytes after the last tensor");
    }

    /// <summary>Serialises the header JSON, padded with spaces so the data starts 8-byte aligned (as Hugging Face's writer does).</summary>
    public byte[] ToPaddedJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in Metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            foreach (var e in Entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.ToString());
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(e.Begin);
                w.WriteNumberValue(e.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        var json = ms.ToArray();
        int padded = (json.Length + 8 + 7) / 8 * 8 - 8;
        var result = new byte[padded];
        json.CopyTo(result, 0);
        result.AsSpan(json.Length).Fill((byte)' ');
        return result;
    }

    /// <summary>Lays out tensors back to back in the given order.</summary>
    public static SafeTensorsHeader Layout(IEnumerable<(string Name, TensorDType DType, long[] Shape)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = new List<TensorEntry>();
        long cursor = 0;
        foreach (var (name, dtype, shape) in tensors)
        {
            long bytes = shape.Aggregate(1L, (a, b) => checked(a * b)) * TensorDTypes.SizeOf(dtype);
            entries.Add(new TensorEntry(name, dtype, shape, cursor, cursor + bytes));
            cursor += bytes;
        }
        if (entries.Select(e => e.Name).Distinct().Count() != entries.Count)
            throw new ArgumentException("tensor names must be unique");
        return new SafeTensorsHeader(entries, metadata ?? new Dictionary<string, string>());
    }
}
