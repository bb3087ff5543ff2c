using System.Collections.Concurrent;
using System.Text.Json;
using NeuronEngine.Dump;
using NeuronEngine.IO;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>
/// Runs the explain and simulate stages over many neurons (docs/design.md §5–6). Each neuron's result is written
/// atomically when it is complete, and a neuron whose result is already on disk is skipped, so a run that
/// died or ran out of budget continues where it stopped; the call cache makes the calls of a half-done
/// neuron free. A neuron that fails is recorded and the run goes on; a spent budget stops the run cleanly.
/// </summary>
public sealed class ExplainRunner(LlmGateway gateway, ExplainRunOptions options)
{
    /// <summary>The subject model, for `--revise` (required when <see cref="ExplainRunOptions.Revise"/> &gt; 0).</summary>
    public SubjectModelProbe? Probe { get; init; }

    /// <summary>Where simulate writes the OpenAI-layout results under its output directory (as `engine score` does).</summary>
    public const string ResultsFolderName = ScoreRunner.ExplanationsFolderName;
    public const string ScoresFileName = ScoreRunner.ScoresFileName;
    public const string FailuresFileName = "failures.jsonl";

    /// <summary>Writes OUT/{layer}/{neuron}.json with each neuron's candidate explanations.</summary>
    public Task<StageSummary> ExplainAsync(IReadOnlyList<NeuronFile> neurons, string outputDirectory,
        IProgress<RunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var explainer = new NeuronExplainer(gateway, options);
        NeuronReviser? reviser = null;
        if (options.Revise > 0)
            reviser = new NeuronReviser(gateway, options, Probe ?? throw new InvalidOperationException("revising explanations needs the subject model (Probe)"));
        return RunStageAsync("explain", neurons, progress, cancellationToken,
            isDone: n => ExplanationsFile.TryRead(ExplanationsFile.PathFor(outputDirectory, n.Layer, n.Neuron)) is not null,
            work: async (n, failures, token) =>
            {
                var record = ReadRecord(n);
                var explanations = await explainer.ExplainAsync(record, token).ConfigureAwait(false);
                if (reviser is not null) explanations = await ReviseAsync(reviser, explainer, record, explanations, n, failures, token).ConfigureAwait(false);
                ExplanationsFile.Write(ExplanationsFile.PathFor(outputDirectory, n.Layer, n.Neuron), explanations);
            });
    }

    /// <summary>
    /// The first sample's explanation revised (<see cref="NeuronReviser"/>): its candidates first (original, revision 1, …),
    /// then the other samples. A failed step is a "revise" failure; the neuron keeps what it had.
    /// </summary>
    private static async Task<NeuronExplanations> ReviseAsync(NeuronReviser reviser, NeuronExplainer explainer, NeuronRecord record,
        NeuronExplanations explanations, NeuronFile n, ConcurrentBag<NeuronFailure> failures, CancellationToken token)
    {
        var outcome = await reviser.ReviseAsync(record, explainer.Prompt(record), explanations.Explanations[0], token).ConfigureAwait(false);
        if (outcome.Failure is { } failure) failures.Add(new NeuronFailure(n.Layer, n.Neuron, ReviseStage, failure));
        var others = explanations.Explanations.Skip(1).Select((e, i) => (e, new ExplanationCandidate { Name = $"sample {i + 2}", Order = outcome.Candidates.Count + i }));
        var all = outcome.Candidates.Concat(others).ToArray();
        return explanations with
        {
            Explanations = [.. all.Select(c => c.Item1)],
            CleanedExplanations = [.. all.Select(c => ExplainerPrompt.CleanExplanation(c.Item1) ?? c.Item1)],
            Candidates = [.. all.Select(c => c.Item2)],
        };
    }

    /// <summary>The stage name of a failed revision step in failures.jsonl (the neuron itself is still simulated).</summary>
    public const string ReviseStage = "revise";

    /// <summary>
    /// Simulates and scores each neuron's explanations from <paramref name="explanationsDirectory"/>: writes
    /// OUT/explanations/{layer}/{neuron}.jsonl (OpenAI's NeuronSimulationResults) with its sidecar beside it,
    /// then OUT/scores.jsonl over every results file in OUT and OUT/failures.jsonl for this run's failures.
    /// </summary>
    public async Task<StageSummary> SimulateAsync(IReadOnlyList<NeuronFile> neurons, string explanationsDirectory,
        string outputDirectory, IProgress<RunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var simulator = new NeuronSimulator(gateway, options);
        string resultsDirectory = Path.Combine(outputDirectory, ResultsFolderName);
        var summary = await RunStageAsync("simulate", neurons, progress, cancellationToken,
            isDone: n => IsSimulated(resultsDirectory, n),
            work: async (n, failures, token) =>
            {
                var explanations = ExplanationsFile.TryRead(ExplanationsFile.PathFor(explanationsDirectory, n.Layer, n.Neuron))
                    ?? throw new NeuronFailedException($"no explanations file in {explanationsDirectory} (run engine explain first)");
                var record = ReadRecord(n);
                var outcome = await simulator.SimulateAsync(record, explanations.Explanations, explanations.ExplainerModel, token, explanations.Candidates).ConfigureAwait(false);
                // The sidecar first: the results file marks the neuron done.
                SimulationSidecarFile.Write(SimulationSidecarFile.PathFor(resultsDirectory, n.Layer, n.Neuron), outcome.Sidecar);
                SimulationResultsFile.Write(SimulationResultsFile.PathFor(resultsDirectory, n.Layer, n.Neuron), outcome.Results);
                foreach (string failure in outcome.SequenceFailures) failures.Add(new NeuronFailure(n.Layer, n.Neuron, "sequence", failure));
            }).ConfigureAwait(false);
        WriteScores(resultsDirectory, Path.Combine(outputDirectory, ScoresFileName));
        WriteFailures(Path.Combine(outputDirectory, FailuresFileName), summary.Failures);
        return summary;
    }

    /// <summary>A neuron is done when its results file and a sidecar that belongs to it are both readable.</summary>
    private static bool IsSimulated(string resultsDirectory, NeuronFile n)
    {
        if (SimulationResultsFile.Read(SimulationResultsFile.PathFor(resultsDirectory, n.Layer, n.Neuron)).Results is not { } results) return false;
        return SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(resultsDirectory, n.Layer, n.Neuron)) is { } sidecar
            && sidecar.Mismatch(results) is null;
    }

    /// <summary>
    /// scores.jsonl over every results file in the directory, sorted by layer then neuron: the very
    /// computation `engine score` does (<see cref="ScoreRunner.ScoreLines"/>, on the host scorer).
    /// </summary>
    public static IReadOnlyList<NeuronScoreLine> WriteScores(string resultsDirectory, string scoresPath)
    {
        var lines = Directory.Exists(resultsDirectory)
            ? new ScoreRunner(SimulationScoring.HostScorer).ScoreLines(resultsDirectory, new List<ScoreFailure>())
            : [];
        ScoresJsonl.Write(scoresPath, lines);
        return lines;
    }

    public static void WriteFailures(string path, IEnumerable<NeuronFailure> failures) =>
        AtomicFile.WriteAllText(path, string.Concat(failures.Select(f => JsonSerializer.Serialize(
            new Dictionary<string, object> { ["layer"] = f.Layer, ["neuron"] = f.Neuron, ["stage"] = f.Stage, ["reason"] = f.Reason },
            ExplainJsonContext.Default.DictionaryStringObject) + "\n")));

    private static NeuronRecord ReadRecord(NeuronFile n)
    {
        try
        {
            return NeuronRecordFile.Read(n.Path);
        }
        catch (InvalidDataException e)
        {
            throw new NeuronFailedException(e.Message);
        }
    }

    private async Task<StageSummary> RunStageAsync(string stage, IReadOnlyList<NeuronFile> neurons,
        IProgress<RunProgress>? progress, CancellationToken cancellationToken,
        Func<NeuronFile, bool> isDone,
        Func<NeuronFile, ConcurrentBag<NeuronFailure>, CancellationToken, Task> work)
    {
        var failures = new ConcurrentBag<NeuronFailure>();
        int completed = 0, alreadyDone = 0, finished = 0;
        string? stoppedBy = null;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.NeuronConcurrency), CancellationToken = cancellationToken };
        progress?.Report(new RunProgress(0, neurons.Count));
        await Parallel.ForEachAsync(neurons, parallel, async (n, token) =>
        {
            // Once the budget is spent no neuron starts; those in flight finish the calls they already
            // claimed (paid for, and cached) and stop at their next refused claim.
            if (Volatile.Read(ref stoppedBy) is not null) return;
            try
            {
                bool done;
                try { done = isDone(n); }
                catch (InvalidDataException) { done = false; } // a damaged earlier result is redone
                if (done) Interlocked.Increment(ref alreadyDone);
                else
                {
                    await work(n, failures, token).ConfigureAwait(false);
                    Interlocked.Increment(ref completed);
                }
            }
            catch (NeuronFailedException e)
            {
                failures.Add(new NeuronFailure(n.Layer, n.Neuron, stage, e.Message));
            }
            catch (Exception e) when (e is InvalidDataException or LlmCallFailedException)
            {
                failures.Add(new NeuronFailure(n.Layer, n.Neuron, stage, e.Message));
            }
            catch (LlmBudgetExceededException e)
            {
                Interlocked.CompareExchange(ref stoppedBy, e.Message, null);
                return;
            }
            progress?.Report(new RunProgress(Interlocked.Increment(ref finished), neurons.Count));
        }).ConfigureAwait(false);
        var ordered = failures.OrderBy(f => f.Layer).ThenBy(f => f.Neuron).ThenBy(f => f.Reason, StringComparer.Ordinal).ToArray();
        return new StageSummary(neurons.Count, completed, alreadyDone, ordered, stoppedBy);
    }
}
