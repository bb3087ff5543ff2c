using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using NeuronEngine.OpenAi;
using NeuronEngine.Records;

namespace NeuronEngine.Scoring;

// What the engine knows about a results file that OpenAI's NeuronSimulationResults has no field for:
// which record each scored sequence is, the sequences that failed and why, the calibration split's
// simulations, the models. It sits next to the results file (DIR/{layer}/{neuron}-sidecar.json), so the
// results file stays exactly OpenAI's objects. The name keeps OpenAI's listing of a layer folder
// (neuron index = the file name up to the first ".", kept when numeric) from counting it as a neuron.

/// <summary>Which record a scored sequence of the results file is (same order as scored_sequence_simulations).</summary>
public sealed record SequenceOrigin
{
    public required RecordSource Source { get; init; }
    public required int Index { get; init; }

    /// <summary>Positions given 0 because the simulator offered no value 0–10 there (echo mode, as OpenAI does).</summary>
    public int PositionsWithoutNumericAlternative { get; init; }
}

/// <summary>A sequence that could not be simulated: left out of every score.</summary>
public sealed record FailedSequence
{
    public required RecordSplit Split { get; init; }
    public required RecordSource Source { get; init; }
    public required int Index { get; init; }
    public required string Reason { get; init; }
}

/// <summary>A simulated sequence of the calibration split: what the linear calibration is fitted on.</summary>
public sealed record CalibrationSequence
{
    public required RecordSource Source { get; init; }
    public required int Index { get; init; }
    public required double[] TrueActivations { get; init; }
    public required double[] ExpectedActivations { get; init; }
    public int PositionsWithoutNumericAlternative { get; init; }
}

/// <summary>The engine's extras for one scored explanation, in the results file's order.</summary>
public sealed record ExplanationSidecar
{
    /// <summary>The explanation, as in the results file (checked on reading: the two files must belong together).</summary>
    public required string Explanation { get; init; }
    public required SequenceOrigin[] Sequences { get; init; }
    public FailedSequence[] FailedSequences { get; init; } = [];

    /// <summary>The calibration split's simulations; null when calibration was turned off.</summary>
    public CalibrationSequence[]? CalibrationSequences { get; init; }

    /// <summary>The ablation score (docs/ablation.md), written by `score --ablation` / `run --ablation`; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? AblationScore { get; init; }

    /// <summary>Which candidate this is, with its probe texts and generation score (`--revise`); null otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public ExplanationCandidate? Candidate { get; init; }
}

/// <summary>The sidecar of one results file.</summary>
public sealed record SimulationSidecar
{
    public const string FormatName = "neuron-engine/simulation-sidecar";
    public const int CurrentVersion = 1;

    [JsonPropertyOrder(-2)] public string Format { get; init; } = FormatName;
    [JsonPropertyOrder(-1)] public int Version { get; init; } = CurrentVersion;
    public required int Layer { get; init; }
    public required int Neuron { get; init; }
    public string? ExplainerModel { get; init; }
    public string? SimulatorModel { get; init; }
    public string? SimulatorMode { get; init; }
    public int ExamplesPerSplit { get; init; }
    public required ExplanationSidecar[] ScoredExplanations { get; init; }

    /// <summary>Why this sidecar does not describe <paramref name="results"/>, or null when it does.</summary>
    public string? Mismatch(NeuronSimulationResults results)
    {
        if (Layer != results.NeuronId.LayerIndex || Neuron != results.NeuronId.NeuronIndex)
            return $"it is for layer {Layer} neuron {Neuron}, the results for layer {results.NeuronId.LayerIndex} neuron {results.NeuronId.NeuronIndex}";
        if (ScoredExplanations.Length != results.ScoredExplanations.Length)
            return $"it lists {ScoredExplanations.Length} explanations, the results file {results.ScoredExplanations.Length}";
        for (int e = 0; e < ScoredExplanations.Length; e++)
        {
            var side = ScoredExplanations[e];
            var scored = results.ScoredExplanations[e];
            if (side.Explanation != scored.Explanation) return $"explanation {e} differs from the results file's";
            int sequences = scored.ScoredSimulation.ScoredSequenceSimulations.Length;
            if (side.Sequences.Length != sequences)
                return $"explanation {e}: it lists {side.Sequences.Length} scored sequences, the results file {sequences}";
            foreach (var c in side.CalibrationSequences ?? [])
                if (c.TrueActivations.Length != c.ExpectedActivations.Length)
                    return $"explanation {e}: calibration {RecordSplits.SourceName(c.Source)} record {c.Index} has "
                        + $"{c.TrueActivations.Length} true and {c.ExpectedActivations.Length} expected activations";
        }
        return null;
    }
}

/// <summary>Reads and writes sidecars: DIR/{layer}/{neuron}-sidecar.json, one compact JSON object, written atomically.</summary>
public static class SimulationSidecarFile
{
    public const string Suffix = "-sidecar.json";

    public static readonly NeuronJsonFile<SimulationSidecar> Json = new(
        (JsonTypeInfo<SimulationSidecar>)new JsonSerializerOptions(SimulationSidecarJsonContext.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }
            .GetTypeInfo(typeof(SimulationSidecar)), Suffix, "sidecar")
    {
        TrailingNewline = true,
        Unreadable = "cannot read the sidecar",
    };

    public static string PathFor(string directory, int layer, int neuron) => Json.PathFor(directory, layer, neuron);

    /// <summary>The sidecar beside a results file DIR/{layer}/{neuron}.jsonl.</summary>
    public static string PathBeside(string resultsPath) =>
        Path.Combine(Path.GetDirectoryName(resultsPath) ?? "", Path.GetFileNameWithoutExtension(resultsPath) + Suffix);

    public static string Serialize(SimulationSidecar sidecar) => Json.Serialize(sidecar);

    public static void Write(string path, SimulationSidecar sidecar) => Json.Write(path, sidecar);

    /// <summary>The sidecar, or null when there is none; throws <see cref="InvalidDataException"/> naming the file when it is unreadable.</summary>
    public static SimulationSidecar? TryRead(string path)
    {
        var sidecar = Json.TryRead(path);
        if (sidecar is not null && (sidecar.Format != SimulationSidecar.FormatName || sidecar.Version != SimulationSidecar.CurrentVersion))
            throw new InvalidDataException($"{path}: not a version {SimulationSidecar.CurrentVersion} {SimulationSidecar.FormatName} file");
        return sidecar;
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectNullableAnnotations = true,
    Converters = [typeof(NanAsNullDoubleConverter), typeof(LoneSurrogateTolerantStringConverter),
        typeof(JsonStringEnumConverter<RecordSource>), typeof(JsonStringEnumConverter<RecordSplit>)])]
[JsonSerializable(typeof(SimulationSidecar))]
internal sealed partial class SimulationSidecarJsonContext : JsonSerializerContext;
