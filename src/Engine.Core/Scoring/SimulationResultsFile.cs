using System.Text;
using System.Text.Json;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Scoring;

/// <summary>Why one input could not be scored; the run goes on without it.</summary>
public sealed record ScoreFailure(string Path, string Reason);

/// <summary>A file read: the results, or why they could not be used.</summary>
public sealed record SimulationResultsReadResult(string Path, NeuronSimulationResults? Results, string? FailureReason)
{
    public bool Succeeded => Results is not null;
    public ScoreFailure ToFailure() => new(Path, FailureReason ?? "unknown failure");
}

/// <summary>
/// Reads and writes OpenAI's explanations/{layer}/{neuron}.jsonl files: one compact JSON line holding a
/// NeuronSimulationResults. Problems become failure entries, never exceptions, so one bad file cannot
/// stop a run over hundreds of thousands.
/// </summary>
public static class SimulationResultsFile
{
    /// <summary>OpenAI's layout: DIR/{layer}/{neuron}.jsonl, one line ending in a newline.</summary>
    public static readonly NeuronJsonFile<NeuronSimulationResults> Json =
        new(OpenAiJson.TypeInfo<NeuronSimulationResults>(), ".jsonl", "NeuronSimulationResults JSON") { TrailingNewline = true };

    public static string PathFor(string directory, int layer, int neuron) => Json.PathFor(directory, layer, neuron);

    /// <summary>Compact one-line JSON, "dataclass_name" first in every object, NaN as null.</summary>
    public static string Serialize(NeuronSimulationResults results) => Json.Serialize(results);

    /// <summary>Parses one line. Throws <see cref="JsonException"/> on malformed JSON or missing required fields.</summary>
    public static NeuronSimulationResults Deserialize(string json) => Json.Deserialize(json);

    /// <summary>Writes the file atomically, as one line ending in a newline.</summary>
    public static void Write(string path, NeuronSimulationResults results) => Json.Write(path, results);

    /// <summary>
    /// Every {layer}/{neuron}.jsonl of an explanations directory, sorted by layer then neuron. A missing or empty
    /// directory is reported through <paramref name="failures"/>.
    /// </summary>
    public static IReadOnlyList<NeuronFile> Enumerate(string directory, ICollection<ScoreFailure> failures) =>
        EnumerateByLayer(directory, failures, out _).SelectMany(layer => layer).ToList();

    /// <summary>
    /// The files of <see cref="Enumerate"/> one layer at a time, each layer listed only when it is reached (memory: one
    /// layer's listing); <paramref name="count"/> is the number of files (counted by listing the folders once here).
    /// </summary>
    public static IEnumerable<List<NeuronFile>> EnumerateByLayer(string directory, ICollection<ScoreFailure> failures, out int count)
    {
        count = 0;
        if (!Directory.Exists(directory))
        {
            failures.Add(new ScoreFailure(directory, "explanations directory not found"));
            return [];
        }
        foreach (var layer in NeuronFileLayout.EnumerateByLayer(directory, Json.Extension)) count += layer.Count;
        if (count == 0) failures.Add(new ScoreFailure(directory, "no {layer}/{neuron}.jsonl files found"));
        return NeuronFileLayout.EnumerateByLayer(directory, Json.Extension);
    }

    /// <summary>
    /// Reads and validates one file. Failures: missing file, unreadable file, no line or more than one
    /// non-empty line (OpenAI's reader asserts exactly one), malformed JSON, missing required fields,
    /// a sequence whose tokens, expected and true activations differ in length.
    /// </summary>
    public static SimulationResultsReadResult Read(string path)
    {
        string text;
        try
        {
            if (!File.Exists(path)) return Fail(path, "file not found");
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(path, $"cannot read file: {e.Message}");
        }

        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count != 1)
            return Fail(path, lines.Count == 0 ? "empty file" : $"expected one JSON line, found {lines.Count}");

        NeuronSimulationResults results;
        try
        {
            results = Deserialize(lines[0]);
        }
        catch (JsonException e)
        {
            return Fail(path, $"malformed JSON: {e.Message}");
        }

        string? problem = Validate(results);
        return problem is null ? new(path, results, null) : Fail(path, problem);
    }

    /// <summary>Returns why the results cannot be scored, or null when they can.</summary>
    public static string? Validate(NeuronSimulationResults results)
    {
        for (int e = 0; e < results.ScoredExplanations.Length; e++)
        {
            var sequences = results.ScoredExplanations[e].ScoredSimulation.ScoredSequenceSimulations;
            for (int s = 0; s < sequences.Length; s++)
            {
                var sequence = sequences[s];
                int tokens = sequence.Simulation.Tokens.Length;
                int expected = sequence.Simulation.ExpectedActivations.Length;
                int actual = sequence.TrueActivations.Length;
                if (tokens != expected || tokens != actual)
                    return $"explanation {e}, sequence {s}: {tokens} tokens, {expected} expected activations, "
                        + $"{actual} true activations (lengths must match)";
            }
        }
        return null;
    }

    private static SimulationResultsReadResult Fail(string path, string reason) => new(path, null, reason);
}
