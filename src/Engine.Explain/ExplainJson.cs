using System.Text.Json.Serialization;
using NeuronEngine.OpenAi;
using NeuronEngine.Scoring;

namespace NeuronEngine.Explain;

/// <summary>One token of a json-mode simulator reply. The activation is read as a number so 3.5 can be refused with a reason.</summary>
public sealed record SimulatedToken(string? Token, double? Activation);

/// <summary>A json-mode simulator reply.</summary>
public sealed record SimulatedTokens(SimulatedToken[]? Activations);

/// <summary>
/// The explain stage's output for one neuron (EXPLANATIONS/{layer}/{neuron}.json): the candidate
/// explanations as OpenAI keeps them (the completions of "the main thing this neuron does is find",
/// trimmed of whitespace only; these are simulated), a cleaned form of each for reading (first line, no
/// final period or quotes), which model wrote them, and why any sample failed.
/// </summary>
public sealed record NeuronExplanations : OpenAiDataclass
{
    public required NeuronId NeuronId { get; init; }
    public required string[] Explanations { get; init; }
    public string[] CleanedExplanations { get; init; } = [];
    public required string ExplainerModel { get; init; }
    public string[] FailedSamples { get; init; } = [];

    /// <summary>
    /// With `--revise`: one entry per explanation, in the same order — its name, order, probe texts and generation score
    /// (the simulate stage copies them into the results' sidecar). Absent otherwise.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ExplanationCandidate[]? Candidates { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(SimulatedTokens))]
[JsonSerializable(typeof(SimulatedToken[]))]
[JsonSerializable(typeof(LlmReply))]
[JsonSerializable(typeof(NeuronExplanations))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(List<Dictionary<string, object>>))]
internal sealed partial class ExplainJsonContext : JsonSerializerContext;
