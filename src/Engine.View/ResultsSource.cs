using System.Text.Json;
using NeuronEngine.Scoring;

namespace NeuronEngine.View;

/// <summary>
/// Simulation results (OpenAI's NeuronSimulationResults, DESIGN §5) read through <see cref="SimulationResultsFile"/>:
/// `--results` is either an `engine run`/`simulate` output (its explanations/ folder is used) or a {layer}/{neuron}.jsonl
/// directory itself (`engine score`'s explanations/, OpenAI's published files).
/// </summary>
public sealed class ResultsSource
{
    public string ExplanationsDirectory { get; }
    private int _failures;
    private string? _firstFailure;

    public int Failures => _failures;
    public string? FirstFailure => _firstFailure;

    public ResultsSource(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--results {dir}: no such directory");
        string nested = Path.Combine(dir, "explanations");
        ExplanationsDirectory = Directory.Exists(nested) ? nested : dir;
    }

    /// <summary>The neuron's results, or null when it has none; an unreadable file is counted and skipped.</summary>
    public NeuronSimulationResults? Read(int layer, int neuron)
    {
        string path = SimulationResultsFile.PathFor(ExplanationsDirectory, layer, neuron);
        if (!File.Exists(path)) return null;
        var read = SimulationResultsFile.Read(path);
        if (read.Results is { } results) return results;
        if (Interlocked.Increment(ref _failures) == 1) _firstFailure = $"{path}: {read.FailureReason}";
        return null;
    }

    /// <summary>
    /// Per scored sequence, whether it is a top record: the engine's "record_source" marker where present, else
    /// OpenAI's layout (the first half top, a middle one counted as top) — as `engine score` decides.
    /// </summary>
    public static bool[] TopFlags(ScoredExplanation explanation)
    {
        var sequences = explanation.ScoredSimulation.ScoredSequenceSimulations;
        return sequences.Select((s, i) =>
            s.ExtraFields?.TryGetValue("record_source", out var source) == true && source.ValueKind == JsonValueKind.String
                ? source.GetString() == "top"
                : i < (sequences.Length + 1) / 2).ToArray();
    }

    /// <summary>Top-only and random-only correlation of an explanation's scored sequences.</summary>
    public static (double? TopOnly, double? RandomOnly) Variants(ScoredExplanation explanation)
    {
        var flags = TopFlags(explanation);
        var sequences = explanation.ScoredSimulation.ScoredSequenceSimulations;
        var top = sequences.Where((_, i) => flags[i]).Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations));
        var random = sequences.Where((_, i) => !flags[i]).Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations));
        var all = top.Concat(random).ToArray();
        var v = ScoreCalculator.ScoreVariants(all, flags.Count(x => x));
        return (v.TopOnly.EvCorrelation, v.RandomOnly.EvCorrelation);
    }
}
