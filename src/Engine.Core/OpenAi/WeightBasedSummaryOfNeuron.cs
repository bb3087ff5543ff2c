namespace NeuronEngine.OpenAi;

// OpenAI's neuron_explainer/activations/token_connections.py dataclasses, as in their public
// related-tokens/weight-based/{layer}/{neuron}.json (`engine related`) and related-tokens/activation-based/{layer}/{neuron}.json
// (`engine records --token-lookup`) files, with exactly their fields.

/// <summary>OpenAI's TokensAndWeights: tokens and one strength each, strongest first.</summary>
public sealed record TokensAndWeights : OpenAiDataclass
{
    public required string[] Tokens { get; init; }
    public required double[] Strengths { get; init; }
}

/// <summary>OpenAI's WeightBasedSummaryOfNeuron.</summary>
public sealed record WeightBasedSummaryOfNeuron : OpenAiDataclass
{
    public required TokensAndWeights InputPositive { get; init; }
    public required TokensAndWeights InputNegative { get; init; }
    public required TokensAndWeights OutputPositive { get; init; }
    public required TokensAndWeights OutputNegative { get; init; }
}

/// <summary>
/// OpenAI's TokenLookupTableSummaryOfNeuron (related-tokens/activation-based/{layer}/{neuron}.json): vocabulary tokens
/// and the neuron's average activation over every corpus position holding each, highest average first.
/// </summary>
public sealed record TokenLookupTableSummaryOfNeuron : OpenAiDataclass
{
    public required string[] Tokens { get; init; }
    public required double[] AverageActivations { get; init; }
}
