using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.Text;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Related;

/// <summary>Everything that determines the content of an `engine related` directory; a rerun into it must match.</summary>
public sealed record RelatedSettings
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("model_fingerprint")] public required string ModelFingerprint { get; init; }
    [JsonPropertyName("neurons_per_layer")] public required int NeuronsPerLayer { get; init; }
    [JsonPropertyName("vocab_size")] public required int VocabSize { get; init; }
    [JsonPropertyName("layers")] public required int[] Layers { get; init; }
    [JsonPropertyName("top")] public required int Top { get; init; }
    /// <summary>
    /// `--definition`: "openai" or "direct-path" (<see cref="RelatedDefinition"/>); manifests written before it existed
    /// computed the direct path.
    /// </summary>
    [JsonPropertyName("definition")] public string Definition { get; init; } = "direct-path";
    /// <summary>Whether the input lists add wpe[0] (the position-0 embedding) to each token's embedding.</summary>
    [JsonPropertyName("with_wpe0")] public required bool WithPositionZero { get; init; }
    /// <summary>"packed", "openai" or "both".</summary>
    [JsonPropertyName("format")] public required string Format { get; init; }
    /// <summary>The GEMMs' precision (`--precision`: fp32, tf32, bf16); manifests written before it existed are fp32.</summary>
    [JsonPropertyName("precision")] public string Precision { get; init; } = "fp32";

    public bool WritesPacked => Format is "packed" or "both";
    public bool WritesOpenAi => Format is "openai" or "both";

    public string? FirstDifference(RelatedSettings o)
    {
        if (ModelFingerprint != o.ModelFingerprint) return $"model ({Model} vs {o.Model})";
        if (Definition != o.Definition) return $"definition ({Definition} vs {o.Definition})";
        if (!Layers.SequenceEqual(o.Layers)) return "layers";
        if (Top != o.Top) return $"top ({Top} vs {o.Top})";
        if (WithPositionZero != o.WithPositionZero) return "--with-wpe0";
        if (Format != o.Format) return $"format ({Format} vs {o.Format})";
        if (Precision != o.Precision) return $"precision ({Precision} vs {o.Precision})";
        if (NeuronsPerLayer != o.NeuronsPerLayer || VocabSize != o.VocabSize) return "model shape";
        return null;
    }
}

/// <summary>
/// DIR/related.json: the settings, the device, the layers written so far (each layer's files are complete before
/// it is listed, so a killed run continues with the next layer) and whether every layer is done.
/// </summary>
public sealed record RelatedManifest
{
    public const string FileName = "related.json";
    public const string CurrentFormat = "neuron-engine/related/v1";

    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    [JsonPropertyName("settings")] public required RelatedSettings Settings { get; init; }
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("layers_done")] public List<int> LayersDone { get; init; } = [];
    [JsonPropertyName("complete")] public bool Complete { get; init; }

    public static string PathIn(string dir) => Path.Combine(dir, FileName);

    public static RelatedManifest? TryLoad(string dir)
    {
        string path = PathIn(dir);
        if (!File.Exists(path)) return null;
        try
        {
            var m = JsonSerializer.Deserialize<RelatedManifest>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty manifest");
            if (m.Format != CurrentFormat) throw new InvalidDataException($"{path}: format '{m.Format}' is not {CurrentFormat}");
            return m;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid related-tokens manifest ({e.Message})");
        }
    }

    public void Save(string dir) =>
        AtomicFile.WriteAllText(PathIn(dir), JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
}

/// <summary>
/// The files of `engine related` (docs/related.md): `layer-{L}.safetensors` per layer (packed: `{list}.tokens` I32
/// [N, top] and `{list}.strengths` F32 [N, top] for the four lists), and/or OpenAI's
/// `{layer}/{neuron}.json` (WeightBasedSummaryOfNeuron).
/// </summary>
public static class RelatedFiles
{
    /// <summary>OpenAI's related-tokens/weight-based/{layer}/{neuron}.json (no trailing newline).</summary>
    public static readonly NeuronJsonFile<WeightBasedSummaryOfNeuron> SummaryJson =
        new(OpenAiJson.TypeInfo<WeightBasedSummaryOfNeuron>(), ".json", "WeightBasedSummaryOfNeuron JSON") { Missing = "related-tokens file not found" };

    public static string PackedFileName(int layer) => $"layer-{layer.ToString(CultureInfo.InvariantCulture)}.safetensors";
    public static string OpenAiPath(string dir, int layer, int neuron) => SummaryJson.PathFor(dir, layer, neuron);

    public static void WritePacked(string path, RelatedLayer layer, IReadOnlyDictionary<string, string> metadata)
    {
        long n = layer.Neurons, k = layer.Top;
        var tensors = RelatedLayer.ListNames.SelectMany(name => new (string, TensorDType, long[])[]
        {
            (name + ".tokens", TensorDType.I32, [n, k]), (name + ".strengths", TensorDType.F32, [n, k]),
        }).ToList();
        var meta = new Dictionary<string, string>(metadata)
        {
            ["layer"] = layer.Layer.ToString(CultureInfo.InvariantCulture),
            ["top"] = layer.Top.ToString(CultureInfo.InvariantCulture),
            ["lists"] = string.Join(",", RelatedLayer.ListNames),
        };
        using var w = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout(tensors, meta));
        for (int l = 0; l < RelatedLayer.ListCount; l++)
        {
            layer.Tokens[l].CopyTo(w.Span<int>(RelatedLayer.ListNames[l] + ".tokens"));
            layer.Strengths[l].CopyTo(w.Span<float>(RelatedLayer.ListNames[l] + ".strengths"));
        }
        w.Commit();
    }

    /// <summary>Reads a packed layer file; errors name the file and the problem.</summary>
    public static RelatedLayer ReadPacked(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: related-tokens layer file not found");
        using var f = SafeTensorsFile.Open(path);
        if (!f.Metadata.TryGetValue("layer", out var layerText) || !int.TryParse(layerText, CultureInfo.InvariantCulture, out int layerIndex))
            throw new InvalidDataException($"{path}: no 'layer' in the metadata: not an `engine related` file");
        var first = f.Header.Find(RelatedLayer.ListNames[0] + ".tokens") ?? throw new InvalidDataException($"{path}: tensor '{RelatedLayer.ListNames[0]}.tokens' is missing");
        if (first.Shape.Length != 2) throw new InvalidDataException($"{path}: '{first.Name}' must be [neurons, top]");
        var layer = new RelatedLayer(layerIndex, (int)first.Shape[0], (int)first.Shape[1]);
        for (int l = 0; l < RelatedLayer.ListCount; l++)
        {
            Copy(f, RelatedLayer.ListNames[l] + ".tokens", TensorDType.I32, first.Shape, layer.Tokens[l]);
            Copy(f, RelatedLayer.ListNames[l] + ".strengths", TensorDType.F32, first.Shape, layer.Strengths[l]);
        }
        return layer;
    }

    private static void Copy<T>(SafeTensorsFile f, string name, TensorDType dtype, long[] shape, T[] destination) where T : unmanaged
    {
        var e = f.Header.Find(name) ?? throw new InvalidDataException($"{f.Path}: tensor '{name}' is missing");
        if (e.DType != dtype || !e.Shape.SequenceEqual(shape))
            throw new InvalidDataException($"{f.Path}: tensor '{name}' is {e.DType} [{string.Join(",", e.Shape)}], expected {dtype} [{string.Join(",", shape)}]");
        f.Span<T>(e).CopyTo(destination);
    }

    /// <summary>One neuron's lists in OpenAI's dataclasses, token ids decoded as records show them (empty slots left out).</summary>
    public static WeightBasedSummaryOfNeuron ToSummary(RelatedLayer layer, int neuron, Gpt2Tokenizer tokenizer)
    {
        TokensAndWeights List(RelatedList list)
        {
            var tokens = layer.TokensOf(list, neuron);
            var strengths = layer.StrengthsOf(list, neuron);
            int count = 0;
            while (count < tokens.Length && tokens[count] >= 0) count++;
            var names = new string[count];
            var values = new double[count];
            for (int i = 0; i < count; i++)
            {
                names[i] = tokenizer.DisplayToken(tokens[i]);
                values[i] = strengths[i];
            }
            return new TokensAndWeights { Tokens = names, Strengths = values };
        }
        return new WeightBasedSummaryOfNeuron
        {
            InputPositive = List(RelatedList.InputPositive),
            InputNegative = List(RelatedList.InputNegative),
            OutputPositive = List(RelatedList.OutputPositive),
            OutputNegative = List(RelatedList.OutputNegative),
        };
    }

    public static string Serialize(WeightBasedSummaryOfNeuron summary) => SummaryJson.Serialize(summary);

    public static void WriteOpenAi(string path, WeightBasedSummaryOfNeuron summary) => SummaryJson.Write(path, summary);

    public static WeightBasedSummaryOfNeuron ReadOpenAi(string path)
    {
        var summary = SummaryJson.Read(path);
        foreach (var list in Enum.GetValues<RelatedList>())
            if (summary.List(list).Tokens.Length != summary.List(list).Strengths.Length)
                throw new InvalidDataException($"{path}: {RelatedLayer.ListNames[(int)list]} has {summary.List(list).Tokens.Length} tokens but {summary.List(list).Strengths.Length} strengths");
        return summary;
    }

    /// <summary>One of the four lists of OpenAI's summary, in <see cref="RelatedList"/> terms.</summary>
    public static TokensAndWeights List(this WeightBasedSummaryOfNeuron summary, RelatedList list) => list switch
    {
        RelatedList.InputPositive => summary.InputPositive,
        RelatedList.InputNegative => summary.InputNegative,
        RelatedList.OutputPositive => summary.OutputPositive,
        _ => summary.OutputNegative,
    };
}
