using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using NeuronEngine.IO;

namespace NeuronEngine.OpenAi;

/// <summary>
/// One kind of per-neuron JSON file (DIR/{layer}/{neuron}{Extension}, <see cref="NeuronFileLayout"/>), typed: written
/// atomically (a reader sees the old file or the whole new one, so a killed run leaves no half file), read back or
/// refused with one line that names the file. Used for OpenAI's records, results and related tokens and for the
/// engine's own explanations and sidecars.
/// </summary>
/// <param name="type">how the content is (de)serialised</param>
/// <param name="extension">".json", ".jsonl", …</param>
/// <param name="what">what the file holds, for errors ("NeuronRecord JSON": "{path}: malformed NeuronRecord JSON: …")</param>
public sealed class NeuronJsonFile<T>(JsonTypeInfo<T> type, string extension, string what) where T : class
{
    public string Extension => extension;

    /// <summary>End the file with a newline (OpenAI's .jsonl lines, the engine's own files); records and related tokens have none.</summary>
    public bool TrailingNewline { get; init; }

    /// <summary>The error for a missing file in <see cref="Read"/> ("{path}: {Missing}").</summary>
    public string Missing { get; init; } = $"{what} file not found";

    /// <summary>When set, an I/O error while reading becomes "{path}: {Unreadable}: …"; otherwise it propagates.</summary>
    public string? Unreadable { get; init; }

    public string PathFor(string directory, int layer, int neuron) => NeuronFileLayout.PathFor(directory, layer, neuron, extension);

    public string Serialize(T value) => JsonSerializer.Serialize(value, type);

    /// <summary>Parses the content; throws <see cref="JsonException"/> on malformed JSON, missing required fields or null.</summary>
    public T Deserialize(string json) => JsonSerializer.Deserialize(json, type) ?? throw new JsonException($"the file holds JSON null, not {what}");

    public void Write(string path, T value) =>
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(TrailingNewline ? Serialize(value) + "\n" : Serialize(value)));

    /// <summary>The file's content; <see cref="InvalidDataException"/> naming the file when it is missing or malformed.</summary>
    public T Read(string path) => TryRead(path) ?? throw new InvalidDataException($"{path}: {Missing}");

    /// <summary>The file's content, or null when there is no file; <see cref="InvalidDataException"/> naming the file when malformed.</summary>
    public T? TryRead(string path)
    {
        string text;
        try
        {
            if (!File.Exists(path)) return null;
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (Unreadable is not null && e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: {Unreadable}: {e.Message}");
        }
        try
        {
            return Deserialize(text);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed {what}: {e.Message}");
        }
    }
}
