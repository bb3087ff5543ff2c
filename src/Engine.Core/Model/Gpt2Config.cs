using System.Text.Json;
using System.Text.Json.Nodes;

namespace NeuronEngine.Model;

/// <summary>The few numbers that define a GPT-2: as Hugging Face's config.json names them.</summary>
public sealed record Gpt2Config(int NLayer, int NHead, int NEmbd, int NPositions, int VocabSize, float LayerNormEpsilon = 1e-5f)
{
    public int HeadSize => NEmbd / NHead;
    /// <summary>Neurons per layer: GPT-2's MLP is 4·d wide.</summary>
    public int DMlp => 4 * NEmbd;

    public static readonly IReadOnlyDictionary<string, Gpt2Config> Presets = new Dictionary<string, Gpt2Config>
    {
        ["gpt2"] = new(12, 12, 768, 1024, 50257),
        ["gpt2-medium"] = new(24, 16, 1024, 1024, 50257),
        ["gpt2-large"] = new(36, 20, 1280, 1024, 50257),
        ["gpt2-xl"] = new(48, 25, 1600, 1024, 50257),
    };

    public static Gpt2Config Preset(string name) => Presets.TryGetValue(name, out var c)
        ? c : throw new ArgumentException($"unknown preset '{name}' (known: {string.Join(", ", Presets.Keys)})");

    /// <summary>Weights without the LM head, which GPT-2 ties to wte.</summary>
    public long ParameterCount
    {
        get
        {
            long d = NEmbd, perLayer = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
            return (long)VocabSize * d + (long)NPositions * d + NLayer * perLayer + 2 * d;
        }
    }

    /// <summary>
    /// FLOPs (2 per multiply-add) per token of a T-token window for one layer: the four matmuls and attention's
    /// q·k and p·v over on average (T+1)/2 positions. The last computed layer stops at the GELU, so it skips
    /// the MLP's output projection (<paramref name="includeMlpProjection"/> false).
    /// </summary>
    public double LayerFlopsPerToken(int seqLen, bool includeMlpProjection = true)
    {
        double d = NEmbd;
        double matmuls = 2 * (d * 3 * d + d * d + d * 4 * d + (includeMlpProjection ? 4 * d * d : 0));
        double attention = 2 * 2 * d * (seqLen + 1) / 2.0;
        return matmuls + attention;
    }

    /// <summary>FLOPs per token of a forward pass that stops after layer <paramref name="lastLayer"/>'s neurons.</summary>
    public double FlopsPerToken(int lastLayer, int seqLen) =>
        Enumerable.Range(0, lastLayer + 1).Sum(l => LayerFlopsPerToken(seqLen, includeMlpProjection: l < lastLayer));

    /// <summary>
    /// Checks one forward batch against the model, as every device must before computing: windows·seqLen ids, a
    /// window no longer than n_positions, ids inside the vocabulary, and a last layer that exists.
    /// </summary>
    public void ValidateBatch(ReadOnlySpan<int> tokens, int windows, int seqLen, int lastLayer)
    {
        long m = (long)windows * seqLen;
        if (tokens.Length != m) throw new ArgumentException($"expected {m} token ids, got {tokens.Length}");
        if (seqLen > NPositions) throw new ArgumentException($"window length {seqLen} exceeds n_positions {NPositions}");
        if (lastLayer >= NLayer) throw new ArgumentException($"layer {lastLayer} does not exist (the model has {NLayer})");
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)VocabSize)
                throw new ArgumentException($"token id {tokens[i]} at position {i} is outside the vocabulary ({VocabSize})");
    }

    /// <summary>As config.json names the sizes, for messages (not the record's C# form).</summary>
    public override string ToString() =>
        $"n_layer {NLayer}, n_head {NHead}, n_embd {NEmbd}, n_positions {NPositions}, vocab_size {VocabSize}";

    public void Validate(string source)
    {
        if (NLayer < 1 || NHead < 1 || NEmbd < 1 || NPositions < 1 || VocabSize < 1)
            throw new ModelException(source, $"config has a non-positive size ({this})");
        if (NEmbd % NHead != 0)
            throw new ModelException(source, $"n_embd {NEmbd} is not divisible by n_head {NHead}");
        if (!(LayerNormEpsilon > 0)) throw new ModelException(source, $"layer_norm_epsilon {LayerNormEpsilon} must be positive");
    }

    public static Gpt2Config FromJsonFile(string path)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ModelException(path, $"not valid JSON ({e.Message})"); }
        if (root is not JsonObject o) throw new ModelException(path, "not a JSON object");
        int Int(string key, string? alt = null)
        {
            var node = o[key] ?? (alt is null ? null : o[alt]);
            if (node is JsonValue v && v.TryGetValue<int>(out var i)) return i;
            throw new ModelException(path, $"missing integer '{key}'");
        }
        float eps = o["layer_norm_epsilon"] is JsonValue e2 && e2.TryGetValue<double>(out var ed) ? (float)ed : 1e-5f;
        var config = new Gpt2Config(Int("n_layer"), Int("n_head"), Int("n_embd"), Int("n_positions", "n_ctx"), Int("vocab_size"), eps);
        config.Validate(path);
        // Variants of GPT-2 this engine does not compute: refuse them rather than produce wrong neurons.
        if (o["activation_function"] is JsonValue act && act.TryGetValue<string>(out var fn) && fn != "gelu_new")
            throw new ModelException(path, $"activation_function '{fn}' is not supported (GPT-2 uses gelu_new)");
        if (o["n_inner"] is JsonValue inner && inner.TryGetValue<int>(out var ni) && ni != config.DMlp)
            throw new ModelException(path, $"n_inner {ni} is not supported (the engine assumes 4·n_embd = {config.DMlp})");
        foreach (var flag in new[] { "scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn" })
            if (o[flag] is JsonValue f && f.TryGetValue<bool>(out var on) && on)
                throw new ModelException(path, $"'{flag}: true' is not supported");
        if (o["scale_attn_weights"] is JsonValue sw && sw.TryGetValue<bool>(out var scaled) && !scaled)
            throw new ModelException(path, "'scale_attn_weights: false' is not supported");
        return config;
    }

    public string ToJson() => new JsonObject
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["model_type"] = "gpt2",
        ["activation_function"] = "gelu_new",
        ["n_layer"] = NLayer,
        ["n_head"] = NHead,
        ["n_embd"] = NEmbd,
        ["n_positions"] = NPositions,
        ["n_ctx"] = NPositions,
        ["vocab_size"] = VocabSize,
        ["layer_norm_epsilon"] = LayerNormEpsilon,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>A model that cannot be used: the message names the file and what is wrong with it.</summary>
public sealed class ModelException(string source, string problem) : Exception($"{source}: {problem}");
