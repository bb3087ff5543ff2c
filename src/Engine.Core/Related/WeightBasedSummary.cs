using System.Text.Json;
using System.Text.Json.Serialization;
using NeuronEngine.Scoring;

namespace NeuronEngine.Related;

// OpenAI's neuron_explainer/activations/token_connections.py dataclasses, as in their public
// related-tokens/weight-based/{layer}/{neuron}.json files: compact JSON, "dataclass_name" first,
// snake_case, NaN as null. Their loader (fast_dataclasses.loads) rejects unknown keys, so nothing
// else goes inside these objects.

/// <summary>OpenAI's TokensAndWeights: tokens and one strength each, strongest first.</summary>
public sealed record TokensAndWeights
{
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; } = nameof(TokensAndWeights);
    public required string[] Tokens { get; init; }
    public required double[] Strengths { get; init; }
}

/// <summary>OpenAI's WeightBasedSummaryOfNeuron.</summary>
public sealed record WeightBasedSummaryOfNeuron
{
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; } = nameof(WeightBasedSummaryOfNeuron);
    public required TokensAndWeights InputPositive { get; init; }
    public required TokensAndWeights InputNegative { get; init; }
    public required TokensAndWeights OutputPositive { get; init; }
    public required TokensAndWeights OutputNegative { get; init; }

    public TokensAndWeights this[RelatedList list] => list switch
    {
        RelatedList.InputPositive => InputPositive,
        RelatedList.InputNegative => InputNegative,
        RelatedList.OutputPositive => OutputPositive,
        _ => OutputNegative,
    };
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectNullableAnnotations = true,
    Converters = [typeof(NanAsNullDoubleConverter), typeof(LoneSurrogateTolerantStringConverter)])]
[JsonSerializable(typeof(WeightBasedSummaryOfNeuron))]
internal sealed partial class WeightBasedSummaryJsonContext : JsonSerializerContext;
