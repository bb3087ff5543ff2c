using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using NeuronEngine.IO;

namespace NeuronEngine.Explain;

/// <summary>The explain stage's files: DIR/{layer}/{neuron}.json, one <see cref="NeuronExplanations"/> each, written atomically.</summary>
public static class ExplanationsFile
{
    private static readonly JsonTypeInfo<NeuronExplanations> TypeInfo = (JsonTypeInfo<NeuronExplanations>)
        new JsonSerializerOptions(ExplainJsonContext.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }
            .GetTypeInfo(typeof(NeuronExplanations));

    public static string PathFor(string directory, int layer, int neuron) => NeuronFileLayout.PathFor(directory, layer, neuron, ".json");

    public static void Write(string path, NeuronExplanations explanations) =>
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(explanations, TypeInfo) + "\n"));

    /// <summary>The file's explanations, or null when it is missing; throws <see cref="InvalidDataException"/> naming the file when unreadable.</summary>
    public static NeuronExplanations? TryRead(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var read = JsonSerializer.Deserialize(File.ReadAllText(path, Encoding.UTF8), TypeInfo);
            if (read is null || read.Explanations.Length == 0) throw new InvalidDataException($"{path}: no explanations in the file");
            return read;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed explanations file: {e.Message}");
        }
    }
}
