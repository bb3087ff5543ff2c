using System.Text.Json;
using System.Text.Json.Serialization;
using NeuronEngine.IO;
using NeuronEngine.Model;

namespace NeuronEngine.Dump;

/// <summary>
/// OUT/manifest.json of `engine dump`: the settings of the run and the shards that are complete. Only shards
/// that were flushed and renamed into place are listed, so a killed run resumes from the first one missing.
/// </summary>
internal sealed record DumpManifest
{
    public const string FileName = "manifest.json";
    public const string CurrentFormat = "neuron-engine/mlp-activations/v1";

    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    [JsonPropertyName("settings")] public required DumpSettings Settings { get; init; }
    [JsonPropertyName("shards")] public List<ShardEntry> Shards { get; init; } = [];
    [JsonPropertyName("complete")] public bool Complete { get; init; }

    public static string PathIn(string outDir) => System.IO.Path.Combine(outDir, FileName);

    public static DumpManifest? TryLoad(string outDir)
    {
        string path = PathIn(outDir);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<DumpManifest>(File.ReadAllText(path))
                ?? throw new InvalidDataException($"{path}: empty manifest");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid dump manifest ({e.Message})");
        }
    }

    public void Save(string outDir) =>
        AtomicFile.WriteAllText(PathIn(outDir), JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
}

/// <summary>Everything that determines a dump's content; a rerun must match it to resume.</summary>
public sealed record DumpSettings
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    /// <summary>Identifies the weights: file length and a hash of the safetensors header.</summary>
    [JsonPropertyName("model_fingerprint")] public required string ModelFingerprint { get; init; }
    [JsonPropertyName("corpus")] public required string Corpus { get; init; }
    [JsonPropertyName("corpus_fingerprint")] public required string CorpusFingerprint { get; init; }
    [JsonPropertyName("n_layer")] public required int NLayer { get; init; }
    [JsonPropertyName("neurons_per_layer")] public required int NeuronsPerLayer { get; init; }
    [JsonPropertyName("layers")] public required int[] Layers { get; init; }
    [JsonPropertyName("seq_len")] public required int SeqLen { get; init; }
    [JsonPropertyName("dtype")] public required string DType { get; init; }
    [JsonPropertyName("windows_per_shard")] public required int WindowsPerShard { get; init; }
    [JsonPropertyName("total_windows")] public required long TotalWindows { get; init; }
    /// <summary>The GEMM precision (`--precision`: fp32, tf32, bf16); manifests written before it existed are fp32.</summary>
    [JsonPropertyName("precision")] public string Precision { get; init; } = "fp32";

    /// <summary>
    /// The first setting that differs, for the error a mismatched resume gives: "seq-len 8 there vs 16 now" with
    /// <paramref name="mine"/> = "there" and <paramref name="theirs"/> = "now"; null when none does.
    /// </summary>
    public string? FirstDifference(DumpSettings other, string mine = "there", string theirs = "now")
    {
        string D(string name, object a, object b) => $"{name} {a} {mine} vs {b} {theirs}";
        if (ModelFingerprint != other.ModelFingerprint) return D("model", Model, other.Model);
        if (CorpusFingerprint != other.CorpusFingerprint) return D("corpus", Corpus, other.Corpus);
        if (!Layers.SequenceEqual(other.Layers)) return D("layers", LayerSelection.Format(Layers), LayerSelection.Format(other.Layers));
        if (SeqLen != other.SeqLen) return D("seq-len", SeqLen, other.SeqLen);
        if (DType != other.DType) return D("dtype", DType.ToLowerInvariant(), other.DType.ToLowerInvariant());
        if (WindowsPerShard != other.WindowsPerShard) return D("windows-per-shard", WindowsPerShard, other.WindowsPerShard);
        if (TotalWindows != other.TotalWindows) return D("window count", TotalWindows, other.TotalWindows);
        if (Precision != other.Precision) return D("precision", Precision, other.Precision);
        return null;
    }
}

internal sealed record ShardEntry(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("first_window")] long FirstWindow,
    [property: JsonPropertyName("windows")] int Windows);
