using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>A neuron's simulated and scored explanations, their sidecar, and the sequences that failed.</summary>
public sealed record NeuronSimulationOutcome(NeuronSimulationResults Results, SimulationSidecar Sidecar, IReadOnlyList<string> SequenceFailures);

/// <summary>
/// Simulates each explanation on the neuron's valid split (OpenAI's valid_activation_records: top records
/// then random ones) and, unless calibration is off, on its calibration split (one call per record, each
/// cached; a window that is in both splits is one call), and scores it with <see cref="SimulationScoring"/>
/// over the valid sequences that simulated. The results file holds OpenAI's objects only; which record each
/// scored sequence is, the sequences that failed (left out of the scores) and the calibration simulations
/// go to the sidecar. In echo mode the first sequence waits for one probe of the endpoint (<see cref="EchoSupport"/>),
/// which stops the run when the server cannot serve echo.
/// </summary>
public sealed class NeuronSimulator(LlmGateway gateway, ExplainRunOptions options)
{
    private sealed record Work(RecordSplit Split, SplitRecord Record);

    /// <summary>Echo mode's one probe of the endpoint (<see cref="EchoSupport.ProbeAsync"/>), awaited by every sequence before its call.</summary>
    private Task? _echoProbe;
    private readonly Lock _echoProbeLock = new();

    private Task EchoSupportedAsync(CancellationToken cancellationToken)
    {
        lock (_echoProbeLock) return _echoProbe ??= EchoSupport.ProbeAsync(gateway, options, cancellationToken);
    }

    /// <param name="candidates">with `--revise`: which candidate each explanation is (same order), copied into the sidecar</param>
    public async Task<NeuronSimulationOutcome> SimulateAsync(NeuronRecord record, IReadOnlyList<string> explanations, string? explainerModel,
        CancellationToken cancellationToken, IReadOnlyList<ExplanationCandidate>? candidates = null)
    {
        if (candidates is not null && candidates.Count != explanations.Count)
            throw new NeuronFailedException($"the explanations file lists {candidates.Count} candidates for {explanations.Count} explanations");
        var work = RecordSplits.Valid(record, options.ExamplesPerSplit).Select(r => new Work(RecordSplit.Valid, r))
            .Concat(options.Calibrate ? RecordSplits.Calibration(record, options.ExamplesPerSplit).Select(r => new Work(RecordSplit.Calibration, r)) : [])
            .ToArray();
        var results = new List<ScoredExplanation>();
        var sidecars = new List<ExplanationSidecar>();
        var failures = new List<string>();
        for (int candidate = 0; candidate < explanations.Count; candidate++)
        {
            string explanation = explanations[candidate];
            var parses = await Task.WhenAll(work.Select(w => SimulateSequenceAsync(explanation, w.Record.Record.Tokens, cancellationToken))).ConfigureAwait(false);
            var sequences = new List<ScoredSequenceSimulation>();
            var origins = new List<SequenceOrigin>();
            var calibration = new List<CalibrationSequence>();
            var failed = new List<FailedSequence>();
            for (int i = 0; i < work.Length; i++)
            {
                var (split, source) = (work[i].Split, work[i].Record);
                if (parses[i].Simulation is not { } simulation)
                {
                    failures.Add($"{RecordSplits.SplitName(split)} {source.SourceName} record {source.Index}: {parses[i].Failure}");
                    failed.Add(new FailedSequence { Split = split, Source = source.Source, Index = source.Index, Reason = parses[i].Failure! });
                    continue;
                }
                int withoutNumeric = parses[i].PositionsWithoutNumericAlternative;
                if (split == RecordSplit.Calibration)
                {
                    calibration.Add(new CalibrationSequence
                    {
                        Source = source.Source,
                        Index = source.Index,
                        TrueActivations = source.Record.Activations,
                        ExpectedActivations = simulation.ExpectedActivations,
                        PositionsWithoutNumericAlternative = withoutNumeric,
                    });
                    continue;
                }
                sequences.Add(new ScoredSequenceSimulation { Simulation = simulation, TrueActivations = source.Record.Activations });
                origins.Add(new SequenceOrigin { Source = source.Source, Index = source.Index, PositionsWithoutNumericAlternative = withoutNumeric });
            }
            results.Add(new ScoredExplanation
            {
                Explanation = explanation,
                ScoredSimulation = new ScoredSimulation { ScoredSequenceSimulations = [.. sequences] },
            });
            sidecars.Add(new ExplanationSidecar
            {
                Explanation = explanation,
                Sequences = [.. origins],
                FailedSequences = [.. failed],
                CalibrationSequences = options.Calibrate ? [.. calibration] : null,
                Candidate = candidates?[candidate],
            });
        }

        var sidecar = new SimulationSidecar
        {
            Layer = record.NeuronId.LayerIndex,
            Neuron = record.NeuronId.NeuronIndex,
            ExplainerModel = explainerModel,
            SimulatorModel = options.SimulatorModel,
            SimulatorMode = options.SimulatorMode.ToString().ToLowerInvariant(),
            ExamplesPerSplit = options.ExamplesPerSplit,
            ScoredExplanations = [.. sidecars],
        };
        var unordered = new NeuronSimulationResults { NeuronId = record.NeuronId, ScoredExplanations = [.. results] };
        var (scored, _) = SimulationScoring.Rescore(unordered, sidecar);
        // Best first: tools that read one explanation per neuron (scores.jsonl, OpenAI's viewers) take the first.
        int[] order = Enumerable.Range(0, scored.ScoredExplanations.Length)
            .OrderByDescending(e => scored.ScoredExplanations[e].ScoredSimulation.EvCorrelationScore ?? double.NegativeInfinity).ToArray();
        return new NeuronSimulationOutcome(
            scored with { ScoredExplanations = [.. order.Select(e => scored.ScoredExplanations[e])] },
            sidecar with { ScoredExplanations = [.. order.Select(e => sidecar.ScoredExplanations[e])] },
            failures);
    }

    private async Task<SimulationParse> SimulateSequenceAsync(string explanation, string[] tokens, CancellationToken cancellationToken)
    {
        if (options.SimulatorMode == SimulatorMode.Echo)
        {
            await EchoSupportedAsync(cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
            var echoed = await gateway.CompleteTextAsync(new LlmCompletionRequest
            {
                Model = options.SimulatorModel,
                Prompt = SimulatorPrompt.BuildEcho(explanation, tokens, options.FewShotExamples),
                MaxTokens = options.EchoMaxTokens,
                Echo = true,
                Logprobs = options.TopLogprobs,
                Temperature = options.SimulatorTemperature,
            }, cancellationToken).ConfigureAwait(false);
            return EchoSimulationParser.Parse(tokens, echoed);
        }
        bool json = options.SimulatorMode == SimulatorMode.Json;
        var reply = await gateway.CompleteAsync(new LlmRequest
        {
            Model = options.SimulatorModel,
            Messages = SimulatorPrompt.Build(explanation, tokens, options.FewShotExamples, options.SimulatorMode),
            // A value line is a few model tokens per record token; JSON adds keys and quotes.
            MaxOutputTokens = tokens.Length * (json ? 16 : 10) + 64,
            Temperature = options.SimulatorTemperature,
            TopLogprobs = json ? null : options.TopLogprobs,
            JsonSchema = json ? SimulatorPrompt.JsonSchema : null,
        }, cancellationToken).ConfigureAwait(false);
        return json ? SimulationReplyParser.ParseJson(tokens, reply) : SimulationReplyParser.ParseLogprobs(tokens, reply);
    }
}
