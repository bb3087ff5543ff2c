using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.OpenAi;
using NeuronEngine.Related;

namespace NeuronEngine.Connections;

/// <summary>Everything that determines the content of an `engine connections` directory; a rerun into it must match.</summary>
public sealed record ConnectionsSettings
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("model_fingerprint")] public required string ModelFingerprint { get; init; }
    /// <summary>The model's layers: every earlier or later one is a candidate, whatever <see cref="Layers"/> selects.</summary>
    [JsonPropertyName("model_layers")] public required int ModelLayers { get; init; }
    [JsonPropertyName("neurons_per_layer")] public required int NeuronsPerLayer { get; init; }
    /// <summary>The layers whose neurons get lists.</summary>
    [JsonPropertyName("layers")] public required int[] Layers { get; init; }
    [JsonPropertyName("top")] public required int Top { get; init; }
    /// <summary>"packed", "json" or "both".</summary>
    [JsonPropertyName("format")] public required string Format { get; init; }
    /// <summary>The GEMMs' precision (`--precision`: fp32, tf32, bf16).</summary>
    [JsonPropertyName("precision")] public required string Precision { get; init; }

    public bool WritesPacked => Format is "packed" or "both";
    public bool WritesJson => Format is "json" or "both";

    public string? FirstDifference(ConnectionsSettings o)
    {
        if (ModelFingerprint != o.ModelFingerprint) return $"model ({Model} vs {o.Model})";
        if (!Layers.SequenceEqual(o.Layers)) return "layers";
        if (Top != o.Top) return $"top ({Top} vs {o.Top})";
        if (Format != o.Format) return $"format ({Format} vs {o.Format})";
        if (Precision != o.Precision) return $"precision ({Precision} vs {o.Precision})";
        if (NeuronsPerLayer != o.NeuronsPerLayer || ModelLayers != o.ModelLayers) return "model shape";
        return null;
    }
}

/// <summary>
/// DIR/connections.json, as related.json (<see cref="RelatedManifest"/>): the settings, the device, the layers written so
/// far and whether every layer is done; and, since a layer's upstream lists gather over all earlier source layers, how
/// many source layers are done (<see cref="SourceLayersDone"/>) and the checkpoint holding the upstream lists gathered
/// so far for the layers still to come (<see cref="UpstreamCheckpoint"/>).
/// </summary>
public sealed record ConnectionsManifest
{
    public const string FileName = "connections.json";
    public const string CurrentFormat = "neuron-engine/connections/v1";

    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    [JsonPropertyName("settings")] public required ConnectionsSettings Settings { get; init; }
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("layers_done")] public List<int> LayersDone { get; init; } = [];
    /// <summary>Source layers 0 … S−1 have been paired with every later layer they are computed with.</summary>
    [JsonPropertyName("source_layers_done")] public int SourceLayersDone { get; init; }
    /// <summary>The file (in DIR) with the upstream lists of the selected layers ≥ <see cref="SourceLayersDone"/>, or null.</summary>
    [JsonPropertyName("upstream_checkpoint")] public string? UpstreamCheckpoint { get; init; }
    [JsonPropertyName("complete")] public bool Complete { get; init; }

    public static string PathIn(string dir) => Path.Combine(dir, FileName);

    public static ConnectionsManifest? TryLoad(string dir)
    {
        string path = PathIn(dir);
        if (!File.Exists(path)) return null;
        try
        {
            var m = JsonSerializer.Deserialize<ConnectionsManifest>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty manifest");
            if (m.Format != CurrentFormat) throw new InvalidDataException($"{path}: format '{m.Format}' is not {CurrentFormat}");
            return m;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid connections manifest ({e.Message})");
        }
    }

    public void Save(string dir) =>
        AtomicFile.WriteAllText(PathIn(dir), JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
}

/// <summary>
/// The files of `engine connections` (docs/related.md): `layer-{L}.safetensors` per layer (packed: `{list}.layers` I32,
/// `{list}.neurons` I32 and `{list}.weights` F32, each [N, top], for the four lists) and/or `{layer}/{neuron}.json`
/// (<see cref="WeightBasedConnectionsOfNeuron"/>), and the upstream checkpoint of a run in progress.
/// </summary>
public static class ConnectionsFiles
{
    public static readonly NeuronJsonFile<WeightBasedConnectionsOfNeuron> NeuronJson =
        new(OpenAiJson.TypeInfo<WeightBasedConnectionsOfNeuron>(), ".json", "WeightBasedConnectionsOfNeuron JSON") { Missing = "connections file not found" };

    public static string PackedFileName(int layer) => $"layer-{layer.ToString(CultureInfo.InvariantCulture)}.safetensors";
    public static string JsonPath(string dir, int layer, int neuron) => NeuronJson.PathFor(dir, layer, neuron);
    public static string CheckpointFileName(int sourceLayersDone) => $"upstream-after-{sourceLayersDone.ToString(CultureInfo.InvariantCulture)}.safetensors";
    public static bool IsCheckpoint(string name) => name.StartsWith("upstream-after-", StringComparison.Ordinal) && name.EndsWith(".safetensors", StringComparison.Ordinal);

    public static void WritePacked(string path, ConnectionsLayer layer, IReadOnlyDictionary<string, string> metadata)
    {
        long n = layer.Neurons, k = layer.Top;
        var tensors = ConnectionsLayer.ListNames.SelectMany(name => new (string, TensorDType, long[])[]
        {
            (name + ".layers", TensorDType.I32, [n, k]), (name + ".neurons", TensorDType.I32, [n, k]), (name + ".weights", TensorDType.F32, [n, k]),
        }).ToList();
        var meta = new Dictionary<string, string>(metadata)
        {
            ["layer"] = layer.Layer.ToString(CultureInfo.InvariantCulture),
            ["top"] = layer.Top.ToString(CultureInfo.InvariantCulture),
            ["neurons_per_layer"] = layer.NeuronsPerLayer.ToString(CultureInfo.InvariantCulture),
            ["lists"] = string.Join(",", ConnectionsLayer.ListNames),
        };
        using var w = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout(tensors, meta));
        for (int l = 0; l < ConnectionsLayer.ListCount; l++)
        {
            string name = ConnectionsLayer.ListNames[l];
            var ids = layer.Ids[l];
            var layers = w.Span<int>(name + ".layers");
            var neurons = w.Span<int>(name + ".neurons");
            for (int i = 0; i < ids.Length; i++)
            {
                layers[i] = ids[i] < 0 ? -1 : ids[i] / layer.NeuronsPerLayer;
                neurons[i] = ids[i] < 0 ? -1 : ids[i] % layer.NeuronsPerLayer;
            }
            layer.Values[l].CopyTo(w.Span<float>(name + ".weights"));
        }
        w.Commit();
    }

    /// <summary>Reads a packed layer file; errors name the file and the problem.</summary>
    public static ConnectionsLayer ReadPacked(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: connections layer file not found");
        using var f = SafeTensorsFile.Open(path);
        int Meta(string key) => f.Metadata.TryGetValue(key, out var text) && int.TryParse(text, CultureInfo.InvariantCulture, out int v)
            ? v : throw new InvalidDataException($"{path}: no '{key}' in the metadata: not an `engine connections` file");
        int layerIndex = Meta("layer"), perLayer = Meta("neurons_per_layer");
        string first = ConnectionsLayer.ListNames[0] + ".weights";
        var e = f.Header.Find(first) ?? throw new InvalidDataException($"{path}: tensor '{first}' is missing");
        if (e.Shape.Length != 2) throw new InvalidDataException($"{path}: '{first}' must be [neurons, top]");
        var layer = new ConnectionsLayer(layerIndex, (int)e.Shape[0], (int)e.Shape[1]);
        if (layer.NeuronsPerLayer != perLayer) throw new InvalidDataException($"{path}: '{first}' has {layer.Neurons} rows, the metadata says {perLayer} neurons per layer");
        for (int l = 0; l < ConnectionsLayer.ListCount; l++)
        {
            string name = ConnectionsLayer.ListNames[l];
            var layers = Read<int>(f, name + ".layers", TensorDType.I32, e.Shape);
            var neurons = Read<int>(f, name + ".neurons", TensorDType.I32, e.Shape);
            for (int i = 0; i < layers.Length; i++) layer.Ids[l][i] = layers[i] < 0 ? -1 : ConnectionsLayer.Id(layers[i], neurons[i], perLayer);
            Read<float>(f, name + ".weights", TensorDType.F32, e.Shape).CopyTo(layer.Values[l], 0);
        }
        return layer;
    }

    private static T[] Read<T>(SafeTensorsFile f, string name, TensorDType dtype, long[] shape) where T : unmanaged
    {
        var e = f.Header.Find(name) ?? throw new InvalidDataException($"{f.Path}: tensor '{name}' is missing");
        if (e.DType != dtype || !e.Shape.SequenceEqual(shape))
            throw new InvalidDataException($"{f.Path}: tensor '{name}' is {e.DType} [{string.Join(",", e.Shape)}], expected {dtype} [{string.Join(",", shape)}]");
        return f.Span<T>(e).ToArray();
    }

    /// <summary>One neuron's lists as the JSON dataclass (empty slots left out).</summary>
    public static WeightBasedConnectionsOfNeuron ToJson(ConnectionsLayer layer, int neuron)
    {
        NeuronConnection[] List(ConnectionList list) =>
            [.. layer.Of(list, neuron).Select(c => new NeuronConnection { Layer = c.Layer, Neuron = c.Neuron, Weight = c.Weight })];
        return new WeightBasedConnectionsOfNeuron
        {
            UpstreamPositive = List(ConnectionList.UpstreamPositive),
            UpstreamNegative = List(ConnectionList.UpstreamNegative),
            DownstreamPositive = List(ConnectionList.DownstreamPositive),
            DownstreamNegative = List(ConnectionList.DownstreamNegative),
        };
    }

    /// <summary>One of the four lists of the JSON dataclass, in <see cref="ConnectionList"/> terms.</summary>
    public static NeuronConnection[] List(this WeightBasedConnectionsOfNeuron connections, ConnectionList list) => list switch
    {
        ConnectionList.UpstreamPositive => connections.UpstreamPositive,
        ConnectionList.UpstreamNegative => connections.UpstreamNegative,
        ConnectionList.DownstreamPositive => connections.DownstreamPositive,
        _ => connections.DownstreamNegative,
    };

    /// <summary>
    /// The upstream checkpoint: per pending layer L, `{L}.high` and `{L}.low`, the U64 keys of its [N, top] lists as they
    /// stand (unordered slots; <see cref="TokenKeys"/>), so a resumed run continues them exactly.
    /// </summary>
    public static void WriteCheckpoint(string path, IReadOnlyDictionary<int, TopAndBottom> pending, int sourceLayersDone)
    {
        var tensors = pending.OrderBy(p => p.Key).SelectMany(p => new (string, TensorDType, long[])[]
        {
            ($"{p.Key}.high", TensorDType.U64, [p.Value.High.Keys.LongLength]), ($"{p.Key}.low", TensorDType.U64, [p.Value.Low.Keys.LongLength]),
        }).ToList();
        var meta = new Dictionary<string, string> { ["source_layers_done"] = sourceLayersDone.ToString(CultureInfo.InvariantCulture) };
        using var w = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout(tensors, meta));
        foreach (var (layer, lists) in pending)
        {
            lists.High.Keys.CopyTo(w.Span<ulong>($"{layer}.high"));
            lists.Low.Keys.CopyTo(w.Span<ulong>($"{layer}.low"));
        }
        w.Commit();
    }

    /// <summary>The pending layers' lists from a checkpoint; each of <paramref name="layers"/> must be in it.</summary>
    public static Dictionary<int, TopAndBottom> ReadCheckpoint(string path, IEnumerable<int> layers, int neurons, int top)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: the upstream checkpoint connections.json names is missing; delete the directory and rerun");
        using var f = SafeTensorsFile.Open(path);
        var result = new Dictionary<int, TopAndBottom>();
        foreach (int layer in layers)
        {
            long[] shape = [(long)neurons * top];
            result[layer] = new TopAndBottom(
                new TokenTopK(Read<ulong>(f, $"{layer}.high", TensorDType.U64, shape), top),
                new TokenTopK(Read<ulong>(f, $"{layer}.low", TensorDType.U64, shape), top));
        }
        return result;
    }
}
