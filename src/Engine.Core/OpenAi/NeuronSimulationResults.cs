using System.Text.Json.Serialization;

namespace NeuronEngine.OpenAi;

// OpenAI's neuron_explainer results dataclasses (explanations/explanations.py), one record each, with
// exactly their fields: OpenAI's loader (fast_dataclasses.loads) builds each object with cls(**fields)
// and fails on any other key, so nothing of ours goes in here (our extras live in the sidecar,
// SimulationSidecar). Reading ignores unknown keys, so rescoring a file that has them writes it clean.
// Every field is written, null included, as orjson writes a dataclass (OpenAiJson).

/// <summary>OpenAI's SequenceSimulation: the simulator's output on one text sequence.</summary>
public sealed record SequenceSimulation : OpenAiDataclass
{
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
public sealed record ScoredSequenceSimulation : OpenAiDataclass
{
    public required SequenceSimulation Simulation { get; init; }
    public required double[] TrueActivations { get; init; }
    public double? EvCorrelationScore { get; init; }
    public double? RsquaredScore { get; init; }
    public double? AbsoluteDevExplainedScore { get; init; }
}

/// <summary>OpenAI's ScoredSimulation: all scored sequences of one explanation and the scores over them concatenated.</summary>
public sealed record ScoredSimulation : OpenAiDataclass
{
    public required ScoredSequenceSimulation[] ScoredSequenceSimulations { get; init; }
    public double? EvCorrelationScore { get; init; }
    public double? RsquaredScore { get; init; }
    public double? AbsoluteDevExplainedScore { get; init; }
}

/// <summary>OpenAI's ScoredExplanation.</summary>
public sealed record ScoredExplanation : OpenAiDataclass
{
    public required string Explanation { get; init; }
    public required ScoredSimulation ScoredSimulation { get; init; }
}

/// <summary>OpenAI's NeuronSimulationResults: the content of one explanations/{layer}/{neuron}.jsonl line.</summary>
public sealed record NeuronSimulationResults : OpenAiDataclass
{
    public required NeuronId NeuronId { get; init; }
    public required ScoredExplanation[] ScoredExplanations { get; init; }
}
