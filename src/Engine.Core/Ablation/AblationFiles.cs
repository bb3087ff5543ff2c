using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.OpenAi;
using NeuronEngine.Text;

namespace NeuronEngine.Ablation;

/// <summary>Everything that determines the content of an `engine ablate` directory; a rerun into it must match.</summary>
public sealed record AblationSettings
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("model_fingerprint")] public required string ModelFingerprint { get; init; }
    [JsonPropertyName("corpus")] public required string Corpus { get; init; }
    [JsonPropertyName("corpus_fingerprint")] public required string CorpusFingerprint { get; init; }
    [JsonPropertyName("seq_len")] public required int SeqLen { get; init; }
    /// <summary>The corpus windows measured, in order (the first N, or a seeded sample).</summary>
    [JsonPropertyName("windows")] public required long[] Windows { get; init; }
    [JsonPropertyName("layers")] public required int[] Layers { get; init; }
    [JsonPropertyName("neurons")] public required int[] Neurons { get; init; }
    /// <summary>"mean" (the neuron's mean activation over the windows' positions) or "zero".</summary>
    [JsonPropertyName("ablation")] public required string Ablation { get; init; }
    [JsonPropertyName("top")] public required int Top { get; init; }
    [JsonPropertyName("precision")] public required string Precision { get; init; }
    [JsonPropertyName("neurons_per_layer")] public required int NeuronsPerLayer { get; init; }
    [JsonPropertyName("vocab_size")] public required int VocabSize { get; init; }

    public string? FirstDifference(AblationSettings o)
    {
        if (ModelFingerprint != o.ModelFingerprint) return $"model ({Model} vs {o.Model})";
        if (CorpusFingerprint != o.CorpusFingerprint) return $"corpus ({Corpus} vs {o.Corpus})";
        if (SeqLen != o.SeqLen) return $"seq-len ({SeqLen} vs {o.SeqLen})";
        if (!Windows.SequenceEqual(o.Windows)) return "window selection";
        if (!Layers.SequenceEqual(o.Layers)) return "layers";
        if (!Neurons.SequenceEqual(o.Neurons)) return "neurons";
        if (Ablation != o.Ablation) return $"ablation ({Ablation} vs {o.Ablation})";
        if (Top != o.Top) return $"top ({Top} vs {o.Top})";
        if (Precision != o.Precision) return $"precision ({Precision} vs {o.Precision})";
        return null;
    }
}

/// <summary>DIR/ablation.json: settings, device, the layers written so far (a killed run continues with the next) and completion.</summary>
public sealed record AblationManifest
{
    public const string FileName = "ablation.json";
    public const string CurrentFormat = "neuron-engine/ablation/v1";

    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    [JsonPropertyName("settings")] public required AblationSettings Settings { get; init; }
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("layers_done")] public List<int> LayersDone { get; init; } = [];
    [JsonPropertyName("complete")] public bool Complete { get; init; }

    public static string PathIn(string dir) => Path.Combine(dir, FileName);

    public static AblationManifest? TryLoad(string dir)
    {
        string path = PathIn(dir);
        if (!File.Exists(path)) return null;
        try
        {
            var m = JsonSerializer.Deserialize<AblationManifest>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty manifest");
            if (m.Format != CurrentFormat) throw new InvalidDataException($"{path}: format '{m.Format}' is not {CurrentFormat}");
            return m;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid ablation manifest ({e.Message})");
        }
    }

    public void Save(string dir) =>
        AtomicFile.WriteAllText(PathIn(dir), JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
}

/// <summary>
/// The files of `engine ablate` (docs/ablation.md): `layer-{L}.safetensors` per layer — `neurons` I32 [N],
/// `ablation_value`, `delta_loss`, `kl` F32 [N], `promoted.tokens` / `suppressed.tokens` I32 [N, top] and
/// `promoted.strengths` / `suppressed.strengths` F32 [N, top] — and `{layer}/{neuron}.json` (<see cref="NeuronAblationSummary"/>).
/// </summary>
public static class AblationFiles
{
    public static readonly NeuronJsonFile<NeuronAblationSummary> SummaryJson =
        new(OpenAiJson.TypeInfo<NeuronAblationSummary>(), ".json", "NeuronAblationSummary JSON") { Missing = "ablation file not found" };

    public static string PackedFileName(int layer) => $"layer-{layer.ToString(CultureInfo.InvariantCulture)}.safetensors";

    /// <summary>A layer's effects as top lists: token ids and strengths (see <see cref="NeuronAblationSummary"/>).</summary>
    public static (int[] Promoted, float[] PromotedStrength, int[] Suppressed, float[] SuppressedStrength) TopLists(NeuronAblationEffect e, int top)
    {
        var promoted = AblationMeasure.TopTokens(e.MeanDeltaLogProb, top, d => -d);
        var suppressed = AblationMeasure.TopTokens(e.MeanDeltaLogProb, top, d => d);
        return (promoted, promoted.Select(t => -e.MeanDeltaLogProb[t]).ToArray(), suppressed, suppressed.Select(t => e.MeanDeltaLogProb[t]).ToArray());
    }

    public static void WritePacked(string path, int layer, IReadOnlyList<NeuronAblationEffect> effects, int top, IReadOnlyDictionary<string, string> metadata)
    {
        long n = effects.Count;
        int k = Math.Min(top, effects.Count == 0 ? top : effects[0].MeanDeltaLogProb.Length);
        var tensors = new List<(string, TensorDType, long[])>
        {
            ("neurons", TensorDType.I32, [n]), ("ablation_value", TensorDType.F32, [n]), ("delta_loss", TensorDType.F32, [n]), ("kl", TensorDType.F32, [n]),
            ("promoted.tokens", TensorDType.I32, [n, k]), ("promoted.strengths", TensorDType.F32, [n, k]),
            ("suppressed.tokens", TensorDType.I32, [n, k]), ("suppressed.strengths", TensorDType.F32, [n, k]),
        };
        var meta = new Dictionary<string, string>(metadata)
        {
            ["layer"] = layer.ToString(CultureInfo.InvariantCulture), ["top"] = k.ToString(CultureInfo.InvariantCulture),
        };
        using var w = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout(tensors, meta));
        for (int i = 0; i < n; i++)
        {
            var e = effects[i];
            w.Span<int>("neurons")[i] = e.Neuron;
            w.Span<float>("ablation_value")[i] = e.AblationValue;
            w.Span<float>("delta_loss")[i] = (float)e.DeltaLoss;
            w.Span<float>("kl")[i] = (float)e.Kl;
            var (p, ps, s, ss) = TopLists(e, k);
            p.CopyTo(w.Span<int>("promoted.tokens").Slice(i * k, k));
            ps.CopyTo(w.Span<float>("promoted.strengths").Slice(i * k, k));
            s.CopyTo(w.Span<int>("suppressed.tokens").Slice(i * k, k));
            ss.CopyTo(w.Span<float>("suppressed.strengths").Slice(i * k, k));
        }
        w.Commit();
    }

    public static NeuronAblationSummary ToSummary(NeuronAblationEffect e, string ablation, int windows, int top, Gpt2Tokenizer tokenizer)
    {
        var (p, ps, s, ss) = TopLists(e, top);
        string Name(int id) => id < Gpt2Tokenizer.VocabSize ? tokenizer.DisplayToken(id) : $"<{id}>";
        return new NeuronAblationSummary
        {
            NeuronId = new NeuronId { LayerIndex = e.Layer, NeuronIndex = e.Neuron },
            Ablation = ablation, AblationValue = e.AblationValue, Windows = windows, DeltaLoss = e.DeltaLoss, Kl = e.Kl,
            PromotedTokens = new TokensAndWeights { Tokens = p.Select(Name).ToArray(), Strengths = ps.Select(v => (double)v).ToArray() },
            SuppressedTokens = new TokensAndWeights { Tokens = s.Select(Name).ToArray(), Strengths = ss.Select(v => (double)v).ToArray() },
        };
    }

    public static string OpenAiPath(string dir, int layer, int neuron) => SummaryJson.PathFor(dir, layer, neuron);
}
