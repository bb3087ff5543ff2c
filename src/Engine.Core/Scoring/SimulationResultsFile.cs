using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using NeuronEngine.IO;

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
    // Tokens and explanations are written as UTF-8 text, not \u escapes, as OpenAI's orjson writes them.
    private static readonly JsonTypeInfo<NeuronSimulationResults> TypeInfo = (JsonTypeInfo<NeuronSimulationResults>)
        new JsonSerializerOptions(SimulationResultsJsonContext.Default.Options)
        {
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }.GetTypeInfo(typeof(NeuronSimulationResults));

    /// <summary>OpenAI's layout: DIR/{layer}/{neuron}.jsonl.</summary>
    public static string PathFor(string directory, int layer, int neuron) => NeuronFileLayout.PathFor(directory, layer, neuron, ".jsonl");

    /// <summary>Compact one-line JSON, "dataclass_name" first in every object, NaN as null.</summary>
    public static string Serialize(NeuronSimulationResults results) =>
        JsonSerializer.Serialize(results, TypeInfo);

    /// <summary>Parses one line. Throws <see cref="JsonException"/> on malformed JSON or missing required fields.</summary>
    public static NeuronSimulationResults Deserialize(string json) =>
        JsonSerializer.Deserialize(json, TypeInfo)
        ?? throw new JsonException("The line holds JSON null, not a NeuronSimulationResults object.");

    /// <summary>Writes the file atomically, as one line ending in a newline.</summary>
    public static void Write(string path, NeuronSimulationResults results) =>
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(Serialize(results) + "\n"));

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
