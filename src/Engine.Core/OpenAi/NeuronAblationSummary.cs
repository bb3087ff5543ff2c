namespace NeuronEngine.OpenAi;

// `engine ablate`'s per-neuron file (docs/ablation.md): our own dataclass, written the way OpenAI writes theirs.

/// <summary>
/// One neuron's ablation effects in OpenAI's style (our own dataclass; "dataclass_name" first, snake_case, NaN as null):
/// promoted tokens are those whose log-probability falls most when the neuron is ablated (strength = −mean Δ log p,
/// positive), suppressed those whose log-probability rises most (strength = mean Δ log p, positive).
/// </summary>
public sealed record NeuronAblationSummary : OpenAiDataclass
{
    public required NeuronId NeuronId { get; init; }
    public required string Ablation { get; init; }
    public required double AblationValue { get; init; }
    public required int Windows { get; init; }
    public required double DeltaLoss { get; init; }
    public required double Kl { get; init; }
    public required TokensAndWeights PromotedTokens { get; init; }
    public required TokensAndWeights SuppressedTokens { get; init; }
}
