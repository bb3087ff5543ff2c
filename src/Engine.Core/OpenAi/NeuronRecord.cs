using System.Text.Json;
using System.Text.Json.Serialization;

namespace NeuronEngine.OpenAi;

// OpenAI's neuron_explainer activation dataclasses (activations/activations.py), as in their public
// collated-activations/{layer}/{neuron}.json files (docs/design.md §4). Unlike the results dataclasses, these keep keys they do
// not know (ExtraFields), so a record of a newer OpenAI release round-trips whole.

/// <summary>OpenAI's ActivationRecord: one text window's tokens and the neuron's activation on each.</summary>
public sealed record ActivationRecord : OpenAiDataclass
{
    public required string[] Tokens { get; init; }
    public required double[] Activations { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? ExtraFields { get; set; }
}

/// <summary>OpenAI's NeuronRecord: everything the explain and score stages need about one neuron.</summary>
public sealed record NeuronRecord : OpenAiDataclass
{
    public required NeuronId NeuronId { get; init; }

    /// <summary>Windows drawn uniformly (seeded).</summary>
    public ActivationRecord[] RandomSample { get; init; } = [];

    /// <summary>Per quantile band of the window-max distribution, the windows sampled in it.</summary>
    public ActivationRecord[][] RandomSampleByQuantile { get; init; } = [];

    public double[] QuantileBoundaries { get; init; } = [];
    public double Mean { get; init; } = double.NaN;
    public double Variance { get; init; } = double.NaN;
    public double Skewness { get; init; } = double.NaN;
    public double Kurtosis { get; init; } = double.NaN;

    /// <summary>The top windows by their maximum activation, descending.</summary>
    public ActivationRecord[] MostPositiveActivationRecords { get; init; } = [];

    [JsonExtensionData] public Dictionary<string, JsonElement>? ExtraFields { get; set; }
}
