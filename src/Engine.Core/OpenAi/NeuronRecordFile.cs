namespace NeuronEngine.OpenAi;

/// <summary>
/// OpenAI's NeuronRecord files (docs/design.md §4): RECORDS/{layer}/{neuron}.json, compact JSON, no trailing newline. Written by
/// `engine records` and `engine merge`, read by explain, simulate and the viewer.
/// </summary>
public static class NeuronRecordFile
{
    public static readonly NeuronJsonFile<NeuronRecord> Json = new(OpenAiJson.TypeInfo<NeuronRecord>(), ".json", "NeuronRecord JSON")
    {
        Missing = "neuron record file not found",
    };

    public static string PathFor(string directory, int layer, int neuron) => Json.PathFor(directory, layer, neuron);

    public static string Serialize(NeuronRecord record) => Json.Serialize(record);

    /// <summary>Parses one record. Throws <see cref="System.Text.Json.JsonException"/> on malformed JSON or missing required fields.</summary>
    public static NeuronRecord Deserialize(string json) => Json.Deserialize(json);

    public static void Write(string path, NeuronRecord record) => Json.Write(path, record);

    /// <summary>
    /// Reads and validates one file; throws <see cref="InvalidDataException"/> naming the file and the problem (missing
    /// file, malformed JSON, a record whose token and activation counts differ).
    /// </summary>
    public static NeuronRecord Read(string path)
    {
        var record = Json.Read(path);
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
    /// Every {layer}/{neuron}.json of a records directory, sorted by layer then neuron. Throws
    /// <see cref="DirectoryNotFoundException"/> for a missing directory and <see cref="InvalidDataException"/> for one
    /// holding no records.
    /// </summary>
    public static IReadOnlyList<NeuronFile> Enumerate(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"--records {directory}: no such directory");
        var found = NeuronFileLayout.Enumerate(directory, Json.Extension);
        if (found.Count == 0)
            throw new InvalidDataException($"--records {directory}: no {{layer}}/{{neuron}}.json neuron record files found");
        return found;
    }
}
