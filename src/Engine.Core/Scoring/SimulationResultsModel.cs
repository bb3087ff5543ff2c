using System.Text.Json;
using System.Text.Json.Serialization;

namespace NeuronEngine.Scoring;

// OpenAI's neuron_explainer results dataclasses (explanations/explanations.py), one record each, with
// exactly their fields: OpenAI's loader (fast_dataclasses.loads) builds each object with cls(**fields)
// and fails on any other key, so nothing of ours goes in here (our extras live in the sidecar,
// SimulationSidecar). Reading ignores unknown keys, so rescoring a file that has them writes it clean.
// Property names map to snake_case; "dataclass_name" is written first, as their FastDataclass does, and
// every field is written, null included, as orjson writes a dataclass.
// Float lists read null as NaN and write NaN as null (OpenAI's orjson writes NaN as null).

/// <summary>OpenAI's NeuronId.</summary>
public sealed record NeuronId
{
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; } = nameof(NeuronId);
    public required int LayerIndex { get; init; }
    public required int NeuronIndex { get; init; }
}

/// <summary>OpenAI's SequenceSimulation: the simulator's output on one text sequence.</summary>
public sealed record SequenceSimulation
{
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; } = nameof(SequenceSimulation);
    public required string[] Tokens { get; init; }
    public required double[] ExpectedActivations { get; init; }

    /// <summary>"simulated_normalized_activations" (0–10 scale) or "neuron_activations" (calibrated); kept as text.</summary>
    public string? ActivationScale { get; init; }

    /// <summary>Per token, the values of the simulator's discrete distribution (null where not recorded).</summary>
    public double[][]? DistributionValues { get; init; }

    /// <summary>Per token, the probabilities matching <see cref="DistributionValues"/>.</summary>
    public double[][]? DistributionProbabilities { get; init; }

    /// <summary>OpenAI's calibrated simulators keep the simulation before calibration here; null otherwise.</summary>
    public SequenceSimulation? UncalibratedSimulation { get; init; }

}

/// <summary>OpenAI's ScoredSequenceSimulation: one simulated sequence, its true activations and its own scores.</summary>
public sealed record ScoredSequenceSimulation
{
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; } = nameof(ScoredSequenceSimulation);
    public required SequenceSimulation Simulation { get; init; }
    public required double[] TrueActivations { get; init; }
    public double? EvCorrelationScore { get; init; }
    public double? RsquaredScore { get; init; }
    public double? AbsoluteDevExplainedScore { get; init; }
}

/// <summary>OpenAI's ScoredSimulation: all scored sequences of one explanation and the scores over them concatenated.</summary>
public sealed record ScoredSimulation
{
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; } = nameof(ScoredSimulation);
    public required ScoredSequenceSimulation[] ScoredSequenceSimulations { get; init; }
    public double? EvCorrelationScore { get; init; }
    public double? RsquaredScore { get; init; }
    public double? AbsoluteDevExplainedScore { get; init; }
}

/// <summary>OpenAI's ScoredExplanation.</summary>
public sealed record ScoredExplanation
{
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; } = nameof(ScoredExplanation);
    public required string Explanation { get; init; }
    public required ScoredSimulation ScoredSimulation { get; init; }
}

/// <summary>OpenAI's NeuronSimulationResults: the content of one explanations/{layer}/{neuron}.jsonl line.</summary>
public sealed record NeuronSimulationResults
{
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; } = nameof(NeuronSimulationResults);
    public required NeuronId NeuronId { get; init; }
    public required ScoredExplanation[] ScoredExplanations { get; init; }
}

/// <summary>Reads null as NaN and writes NaN (and ±∞, which JSON cannot hold) as null.</summary>
internal sealed class NanAsNullDoubleConverter : JsonConverter<double>
{
    public override bool HandleNull => true;

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectNullableAnnotations = true,
    Converters = [typeof(NanAsNullDoubleConverter), typeof(LoneSurrogateTolerantStringConverter)])]
[JsonSerializable(typeof(NeuronSimulationResults))]
internal sealed partial class SimulationResultsJsonContext : JsonSerializerContext;
