using System.Text.Json.Serialization;

namespace NeuronEngine.OpenAi;

// OpenAI's neuron_explainer writes its dataclasses with FastDataclass + orjson: snake_case keys, "dataclass_name" first
// in every object, NaN as null. Their loader (fast_dataclasses.loads) builds each object with cls(**fields) and fails on
// any other key. Every record of this folder is one such dataclass, with exactly its fields (unless it says otherwise),
// serialised by OpenAiJson; the per-neuron files they live in are NeuronFileLayout / NeuronJsonFile.

/// <summary>The one base of OpenAI's dataclasses here: the "dataclass_name" tag, written first, named after the record.</summary>
public abstract record OpenAiDataclass
{
    protected OpenAiDataclass() => DataclassName = GetType().Name;

    /// <summary>OpenAI's class name (the record's own name); read back as written, never checked.</summary>
    [JsonPropertyOrder(-1)] public string DataclassName { get; init; }
}

/// <summary>OpenAI's NeuronId: how every stage names a neuron (records, results, explanations).</summary>
public sealed record NeuronId : OpenAiDataclass
{
    public required int LayerIndex { get; init; }
    public required int NeuronIndex { get; init; }
}
