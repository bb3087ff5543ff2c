using System.Text.Json;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// A strict mirror of OpenAI's results loader (neuron_explainer fast_dataclasses.loads with the dataclasses of
/// explanations/explanations.py, read from their code): a file is one non-empty line; every JSON object names
/// its dataclass in "dataclass_name" and is built with cls(**fields), so a key that is not a field of that
/// dataclass fails, and so does a field without a default that is missing. Stricter than OpenAI's in one
/// way: an object without "dataclass_name" is refused (OpenAI's would guess the class from its keys).
/// Also the dataclasses of activations/token_connections.py (related tokens).
/// </summary>
public static class OpenAiStrictLoader
{
    private sealed record Dataclass(string[] Fields, string[] Required);

    private static readonly Dictionary<string, Dataclass> Dataclasses = new()
    {
        ["NeuronSimulationResults"] = new(["neuron_id", "scored_explanations"], ["neuron_id", "scored_explanations"]),
        ["NeuronId"] = new(["layer_index", "neuron_index"], ["layer_index", "neuron_index"]),
        ["ScoredExplanation"] = new(["explanation", "scored_simulation"], ["explanation", "scored_simulation"]),
        ["ScoredSimulation"] = new(["scored_sequence_simulations", "ev_correlation_score", "rsquared_score", "absolute_dev_explained_score"],
            ["scored_sequence_simulations"]),
        ["ScoredSequenceSimulation"] = new(["simulation", "true_activations", "ev_correlation_score", "rsquared_score", "absolute_dev_explained_score"],
            ["simulation", "true_activations", "ev_correlation_score"]),
        ["SequenceSimulation"] = new(["tokens", "expected_activations", "activation_scale", "distribution_values", "distribution_probabilities", "uncalibrated_simulation"],
            ["tokens", "expected_activations", "activation_scale", "distribution_values", "distribution_probabilities"]),
        ["WeightBasedSummaryOfNeuron"] = new(["input_positive", "input_negative", "output_positive", "output_negative"],
            ["input_positive", "input_negative", "output_positive", "output_negative"]),
        ["TokensAndWeights"] = new(["tokens", "strengths"], ["tokens", "strengths"]),
        // `engine connections`' own dataclasses (OpenAI published the files without theirs), as a user would register them.
        ["WeightBasedConnectionsOfNeuron"] = new(["upstream_positive", "upstream_negative", "downstream_positive", "downstream_negative"],
            ["upstream_positive", "upstream_negative", "downstream_positive", "downstream_negative"]),
        ["NeuronConnection"] = new(["layer", "neuron", "weight"], ["layer", "neuron", "weight"]),
    };

    /// <summary>Loads a one-object JSON file (e.g. related tokens) as OpenAI's loads() would; its root must be <paramref name="dataclass"/>.</summary>
    public static void Load(string path, string dataclass)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        string root = Check(document.RootElement, "$");
        if (root != dataclass) throw new InvalidDataException($"{path}: the file holds a {root}, not a {dataclass}");
    }

    /// <summary>Loads a results file as OpenAI's code would; throws <see cref="InvalidDataException"/> with the reason where it would fail.</summary>
    public static void LoadResultsFile(string path)
    {
        var lines = File.ReadAllText(path).Split('\n').Where(l => l.Length > 0).ToArray();
        if (lines.Length != 1) throw new InvalidDataException($"{path}: {lines.Length} non-empty lines, OpenAI's reader asserts exactly one");
        using var document = JsonDocument.Parse(lines[0]);
        string root = Check(document.RootElement, "$");
        if (root != "NeuronSimulationResults") throw new InvalidDataException($"{path}: the line is a {root}, not a NeuronSimulationResults");
    }

    private static string Check(JsonElement element, string at)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{at}: expected a dataclass object, got {element.ValueKind}");
        if (!element.TryGetProperty("dataclass_name", out var name) || name.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{at}: no dataclass_name");
        string dataclass = name.GetString()!;
        if (!Dataclasses.TryGetValue(dataclass, out var fields)) throw new InvalidDataException($"{at}: unknown dataclass {dataclass}");
        var keys = element.EnumerateObject().Select(p => p.Name).Where(k => k != "dataclass_name").ToArray();
        if (keys.FirstOrDefault(k => !fields.Fields.Contains(k)) is { } unexpected)
            throw new InvalidDataException($"{at}: {dataclass}.__init__() got an unexpected keyword argument '{unexpected}'");
        if (fields.Required.FirstOrDefault(f => !keys.Contains(f)) is { } missing)
            throw new InvalidDataException($"{at}: {dataclass}.__init__() missing required argument '{missing}'");
        foreach (var property in element.EnumerateObject())
            CheckValue(property.Value, $"{at}.{property.Name}");
        return dataclass;
    }

    private static void CheckValue(JsonElement value, string at)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                Check(value, at);
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in value.EnumerateArray()) CheckValue(item, $"{at}[{i++}]");
                break;
        }
    }
}
