using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.View;

/// <summary>
/// Simulation results (OpenAI's NeuronSimulationResults, docs/design.md §5) read through <see cref="SimulationResultsFile"/>:
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

    /// <summary>
    /// The neuron's results with the engine's sidecar beside them when there is one, or null when it has none; an
    /// unreadable file (or a sidecar that does not match its results) is counted and skipped.
    /// </summary>
    public NeuronResults? Read(int layer, int neuron)
    {
        string path = SimulationResultsFile.PathFor(ExplanationsDirectory, layer, neuron);
        if (!File.Exists(path)) return null;
        var read = SimulationResultsFile.Read(path);
        string? failure = read.FailureReason;
        if (read.Results is { } results)
        {
            try
            {
                var sidecar = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathBeside(path));
                failure = sidecar?.Mismatch(results);
                if (failure is null) return new NeuronResults(results, sidecar);
            }
            catch (InvalidDataException e)
            {
                failure = e.Message;
            }
        }
        if (Interlocked.Increment(ref _failures) == 1) _firstFailure = $"{path}: {failure}";
        return null;
    }

    /// <summary>
    /// Per scored sequence of explanation <paramref name="e"/>, whether it is a top record: decided by
    /// <see cref="SimulationScoring.TopFlags"/> (the sidecar, else OpenAI's layout), as `engine score` decides.
    /// </summary>
    public static bool[] TopFlags(NeuronResults r, int e) =>
        SimulationScoring.TopFlags(r.Results.ScoredExplanations[e], r.Sidecar?.ScoredExplanations[e]);

    /// <summary>Top-only and random-only correlation of an explanation's scored sequences.</summary>
    public static (double? TopOnly, double? RandomOnly) Variants(NeuronResults r, int e)
    {
        var flags = TopFlags(r, e);
        var sequences = r.Results.ScoredExplanations[e].ScoredSimulation.ScoredSequenceSimulations;
        var top = sequences.Where((_, i) => flags[i]).Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations));
        var random = sequences.Where((_, i) => !flags[i]).Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations));
        var all = top.Concat(random).ToArray();
        var v = ScoreCalculator.ScoreVariants(all, flags.Count(x => x));
        return (v.TopOnly.EvCorrelation, v.RandomOnly.EvCorrelation);
    }
}

/// <summary>A results file and the engine's sidecar beside it (null for OpenAI's own files).</summary>
public sealed record NeuronResults(NeuronSimulationResults Results, SimulationSidecar? Sidecar);
