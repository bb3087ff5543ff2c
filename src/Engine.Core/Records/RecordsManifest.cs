using System.Text.Json;
using System.Text.Json.Serialization;
using NeuronEngine.IO;
using NeuronEngine.Pass;
using NeuronEngine.Model;

namespace NeuronEngine.Records;

/// <summary>Everything that determines a records run's content; a rerun or a merge must match it.</summary>
public sealed record RecordsSettings
{
    /// <summary>The defaults of `--top-k`, `--random` and `--quantile-samples`: OpenAI's 20 top and 20 random records per neuron, 5 per band.</summary>
    public const int DefaultTopK = 20, DefaultRandom = 20, DefaultQuantileSamples = 5;

    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("model_fingerprint")] public required string ModelFingerprint { get; init; }
    [JsonPropertyName("corpus")] public required string Corpus { get; init; }
    [JsonPropertyName("corpus_fingerprint")] public required string CorpusFingerprint { get; init; }
    /// <summary>The device kind: activations (hence records) differ in the last bits between devices.</summary>
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("neurons_per_layer")] public required int NeuronsPerLayer { get; init; }
    [JsonPropertyName("layers")] public required int[] Layers { get; init; }
    [JsonPropertyName("seq_len")] public required int SeqLen { get; init; }
    [JsonPropertyName("top_k")] public required int TopK { get; init; }
    [JsonPropertyName("random")] public required int Random { get; init; }
    [JsonPropertyName("quantile_samples")] public required int QuantileSamples { get; init; }
    [JsonPropertyName("seed")] public required ulong Seed { get; init; }
    [JsonPropertyName("total_windows")] public required long TotalWindows { get; init; }
    [JsonPropertyName("pilot_windows")] public required int PilotWindows { get; init; }
    /// <summary>The GEMM precision (`--precision`: fp32, tf32, bf16); manifests written before it existed are fp32.</summary>
    [JsonPropertyName("precision")] public string Precision { get; init; } = "fp32";
    /// <summary>`--token-lookup K`: tokens per neuron in the activation-based lists; 0 (off) is not written, so manifests without it read as off.</summary>
    [JsonPropertyName("token_lookup"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int TokenLookup { get; init; }
    /// <summary>`--token-lookup-min-count M` when the lists are on (null, and not written, when off).</summary>
    [JsonPropertyName("token_lookup_min_count"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? TokenLookupMinCount { get; init; }

    /// <summary>Written for readers (snake_case like every other key); derived, so never read back (old files' "Shape" is ignored).</summary>
    [JsonPropertyName("shape")] public RecordShape Shape => new(NeuronsPerLayer, SeqLen, TopK, Random, QuantileSamples, Seed);

    /// <summary>
    /// The first setting that differs (for resume and merge errors): "seed 8 there vs 7 now" with <paramref name="mine"/>
    /// = "there" and <paramref name="theirs"/> = "now"; null when none does.
    /// </summary>
    public string? FirstDifference(RecordsSettings o, string mine = "there", string theirs = "now")
    {
        string D(string name, object a, object b) => $"{name} {a} {mine} vs {b} {theirs}";
        if (ModelFingerprint != o.ModelFingerprint) return D("model", Model, o.Model);
        if (CorpusFingerprint != o.CorpusFingerprint) return D("corpus", Corpus, o.Corpus);
        if (Device != o.Device) return D("device", Device, o.Device);
        if (Precision != o.Precision) return D("precision", Precision, o.Precision);
        if (!Layers.SequenceEqual(o.Layers)) return D("layers", LayerSelection.Format(Layers), LayerSelection.Format(o.Layers));
        if (SeqLen != o.SeqLen) return D("seq-len", SeqLen, o.SeqLen);
        if (TopK != o.TopK) return D("top-k", TopK, o.TopK);
        if (Random != o.Random) return D("random", Random, o.Random);
        if (QuantileSamples != o.QuantileSamples) return D("quantile-samples", QuantileSamples, o.QuantileSamples);
        if (Seed != o.Seed) return D("seed", Seed, o.Seed);
        if (TotalWindows != o.TotalWindows) return D("window count", TotalWindows, o.TotalWindows);
        if (PilotWindows != o.PilotWindows) return D("pilot-windows", PilotWindows, o.PilotWindows);
        if (NeuronsPerLayer != o.NeuronsPerLayer) return D("neurons per layer", NeuronsPerLayer, o.NeuronsPerLayer);
        if (TokenLookup != o.TokenLookup) return D("token-lookup", TokenLookup, o.TokenLookup);
        if (TokenLookupMinCount != o.TokenLookupMinCount) return D("token-lookup-min-count", TokenLookupMinCount?.ToString() ?? "off", o.TokenLookupMinCount?.ToString() ?? "off");
        return null;
    }
}

/// <summary>
/// OUT/records.json: the settings, the format, the windows covered (one range for a run or shard, several after a
/// merge) and whether the output is complete. Written with complete = false before any output file and with
/// complete = true after the last one, so a directory whose manifest is not complete is never mistaken for a result.
/// </summary>
public sealed record RecordsManifest
{
    public const string FileName = "records.json";
    public const string CurrentFormat = "neuron-engine/records/v1";

    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    /// <summary>"openai" or "packed".</summary>
    [JsonPropertyName("layout")] public required string Layout { get; init; }
    [JsonPropertyName("settings")] public required RecordsSettings Settings { get; init; }
    [JsonPropertyName("windows")] public required List<WindowRange> Windows { get; init; }
    [JsonPropertyName("complete")] public bool Complete { get; init; }

    public static string PathIn(string dir) => Path.Combine(dir, FileName);

    public static RecordsManifest? TryLoad(string dir)
    {
        string path = PathIn(dir);
        if (!File.Exists(path)) return null;
        try
        {
            var m = JsonSerializer.Deserialize<RecordsManifest>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty manifest");
            if (m.Format != CurrentFormat) throw new InvalidDataException($"{path}: format '{m.Format}' is not {CurrentFormat}");
            return m;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid records manifest ({e.Message})");
        }
    }

    public void Save(string dir) =>
        AtomicFile.WriteAllText(PathIn(dir), JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
}
