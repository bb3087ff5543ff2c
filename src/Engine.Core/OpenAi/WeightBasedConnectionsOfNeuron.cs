namespace NeuronEngine.OpenAi;

// `engine connections`' {layer}/{neuron}.json. OpenAI published neuron-to-neuron connections for GPT-2 XL
// (related-neurons/weight-based/{layer}/{neuron}.json) but not their dataclass, so this one is ours, written the way
// theirs are (FastDataclass style: snake_case, "dataclass_name" first in every object, NaN as null), with fields named
// like their token summaries (WeightBasedSummaryOfNeuron). Their fast_dataclasses.loads reads it (as dicts: the names
// are not registered there; an object without "dataclass_name" would make it print a warning, so the entries carry one).

/// <summary>One connected neuron and the connection's weight (docs/related.md, "Neuron-to-neuron connections").</summary>
public sealed record NeuronConnection : OpenAiDataclass
{
    public required int Layer { get; init; }
    public required int Neuron { get; init; }
    public required double Weight { get; init; }
}

/// <summary>A neuron's strongest connections to earlier (upstream) and later (downstream) layers, strongest first.</summary>
public sealed record WeightBasedConnectionsOfNeuron : OpenAiDataclass
{
    public required NeuronConnection[] UpstreamPositive { get; init; }
    public required NeuronConnection[] UpstreamNegative { get; init; }
    public required NeuronConnection[] DownstreamPositive { get; init; }
    public required NeuronConnection[] DownstreamNegative { get; init; }
}
