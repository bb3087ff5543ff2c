using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using NeuronEngine.IO;

namespace NeuronEngine.Records;

/// <summary>One neuron's record file in OpenAI's layout.</summary>
public sealed record NeuronRecordLocation(int Layer, int Neuron, string Path);

/// <summary>
/// Reads and writes OpenAI's NeuronRecord JSON (DESIGN §4): RECORDS/{layer}/{neuron}.json, compact JSON,
/// "dataclass_name" first in every object, NaN as null. Shared by `engine records` (writer) and the
/// explain/simulate stages (reader).
/// </summary>
public static class NeuronRecordFile
{
    // Tokens stay readable UTF-8 (OpenAI's files hold them unescaped).
    private static readonly JsonTypeInfo<NeuronRecord> TypeInfo = (JsonTypeInfo<NeuronRecord>)
        new JsonSerializerOptions(NeuronRecordJsonContext.Default.Options)
        {
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }.GetTypeInfo(typeof(NeuronRecord));

    /// <summary>OpenAI's layout: DIR/{layer}/{neuron}.json.</summary>
    public static string PathFor(string directory, int layer, int neuron) => NeuronFileLayout.PathFor(directory, layer, neuron, ".json");

    public static string Serialize(NeuronRecord record) => JsonSerializer.Serialize(record, TypeInfo);

    /// <summary>Parses one record. Throws <see cref="JsonException"/> on malformed JSON or missing required fields.</summary>
    public static NeuronRecord Deserialize(string json) =>
        JsonSerializer.Deserialize(json, TypeInfo) ?? throw new JsonException("the file holds JSON null, not a NeuronRecord");

    /// <summary>Writes the file atomically (temp + rename).</summary>
    public static void Write(string path, NeuronRecord record) =>
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(Serialize(record)));

    /// <summary>
    /// Reads and validates one file; throws <see cref="InvalidDataException"/> naming the file and the
    /// problem (missing file, malformed JSON, a record whose token and activation counts differ).
    /// </summary>
    public static NeuronRecord Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: neuron record file not found");
        NeuronRecord record;
        try
        {
            record = Deserialize(File.ReadAllText(path, Encoding.UTF8));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed NeuronRecord JSON: {e.Message}");
        }
        if (Validate(record) is { } problem) throw new InvalidDataException($"{path}: {problem}");
        return record;
    }

    /// <summary>Why the record cannot be used, or null when it can.</summary>
    public static string? Validate(NeuronRecord record)
    {
        static string? Check(string name, IReadOnlyList<ActivationRecord> records)
        {
            for (int i = 0; i < records.Count; i++)
                if (records[i].Tokens.Length != records[i].Activations.Length)
                    return $"{name}[{i}] has {records[i].Tokens.Length} tokens but {records[i].Activations.Length} activations";
            return null;
        }
        return Check("most_positive_activation_records", record.MostPositiveActivationRecords)
            ?? Check("random_sample", record.RandomSample)
            ?? record.RandomSampleByQuantile.Select((band, b) => Check($"random_sample_by_quantile[{b}]", band)).FirstOrDefault(p => p is not null);
    }

    /// <summary>
    /// Every numeric {layer} folder's numeric {neuron}.json, sorted by layer then neuron. Throws
    /// <see cref="DirectoryNotFoundException"/> for a missing directory and <see cref="InvalidDataException"/>
    /// for one holding no records.
    /// </summary>
    public static IReadOnlyList<NeuronRecordLocation> Enumerate(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"--records {directory}: no such directory");
        var found = new List<NeuronRecordLocation>();
        foreach (string layerDir in Directory.EnumerateDirectories(directory))
        {
            if (!TryParseIndex(Path.GetFileName(layerDir), out int layer)) continue;
            foreach (string file in Directory.EnumerateFiles(layerDir, "*.json"))
                if (TryParseIndex(Path.GetFileNameWithoutExtension(file), out int neuron))
                    found.Add(new NeuronRecordLocation(layer, neuron, file));
        }
        if (found.Count == 0)
            throw new InvalidDataException($"--records {directory}: no {{layer}}/{{neuron}}.json neuron record files found");
        found.Sort((a, b) => a.Layer != b.Layer ? a.Layer.CompareTo(b.Layer) : a.Neuron.CompareTo(b.Neuron));
        return found;
    }

    private static bool TryParseIndex(string name, out int index)
    {
        index = 0;
        return name.Length > 0 && name.All(char.IsAsciiDigit)
            && int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }
}
