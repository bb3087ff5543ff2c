using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>The explain stage's files: DIR/{layer}/{neuron}.json, one <see cref="NeuronExplanations"/> each, written atomically.</summary>
public static class ExplanationsFile
{
    public static readonly NeuronJsonFile<NeuronExplanations> Json = new(
        (JsonTypeInfo<NeuronExplanations>)new JsonSerializerOptions(ExplainJsonContext.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }
            .GetTypeInfo(typeof(NeuronExplanations)), ".json", "explanations file")
    {
        TrailingNewline = true,
    };

    public static string PathFor(string directory, int layer, int neuron) => Json.PathFor(directory, layer, neuron);

    public static void Write(string path, NeuronExplanations explanations) => Json.Write(path, explanations);

    /// <summary>The file's explanations, or null when it is missing; throws <see cref="InvalidDataException"/> naming the file when unreadable.</summary>
    public static NeuronExplanations? TryRead(string path)
    {
        var read = Json.TryRead(path);
        if (read is not null && read.Explanations.Length == 0) throw new InvalidDataException($"{path}: no explanations in the file");
        return read;
    }
}
