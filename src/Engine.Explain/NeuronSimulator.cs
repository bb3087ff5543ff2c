using System.Text.Json;
using NeuronEngine.Records;
using NeuronEngine.Scoring;

namespace NeuronEngine.Explain;

/// <summary>A neuron's simulated and scored explanations, with the sequences that failed.</summary>
public sealed record NeuronSimulationOutcome(NeuronSimulationResults Results, IReadOnlyList<string> SequenceFailures);

/// <summary>
/// Simulates each explanation on the neuron's scored records (one call per record) and scores it with
/// <see cref="ScoreCalculator"/> over the sequences that simulated, concatenated. Failed sequences are left
/// out of the scores and listed in the scored simulation's "failed_sequences" field with their reason.
/// Each scored sequence carries "record_source" (top|random) and "record_index" so scores.jsonl can split
/// top-only and random-only even when some sequences failed.
/// </summary>
public sealed class NeuronSimulator(LlmGateway gateway, ExplainRunOptions options)
{
    public const string RecordSourceField = "record_source";
    public const string RecordIndexField = "record_index";
    public const string FailedSequencesField = "failed_sequences";

    public async Task<NeuronSimulationOutcome> SimulateAsync(NeuronRecord record, IReadOnlyList<string> explanations, CancellationToken cancellationToken)
    {
        var scored = RecordSplits.ScoredRecords(record, options.ExamplesPerSplit);
        if (scored.Length == 0) throw new NeuronFailedException("the record has no top or random records to score on");
        var results = new List<ScoredExplanation>();
        var failures = new List<string>();
        foreach (string explanation in explanations)
        {
            var parses = await Task.WhenAll(scored.Select(s => SimulateSequenceAsync(explanation, s.Record.Tokens, cancellationToken))).ConfigureAwait(false);
            var sequences = new List<ScoredSequenceSimulation>();
            var failed = new List<Dictionary<string, object>>();
            for (int i = 0; i < scored.Length; i++)
            {
                if (parses[i].Simulation is not { } simulation)
                {
                    failures.Add($"{scored[i].Source} record {scored[i].Index}: {parses[i].Failure}");
                    failed.Add(new() { [RecordSourceField] = scored[i].Source, [RecordIndexField] = scored[i].Index, ["reason"] = parses[i].Failure! });
                    continue;
                }
                var own = ScoreCalculator.Score(scored[i].Record.Activations, simulation.ExpectedActivations);
                sequences.Add(new ScoredSequenceSimulation
                {
                    Simulation = simulation,
                    TrueActivations = scored[i].Record.Activations,
                    EvCorrelationScore = own.EvCorrelation,
                    RsquaredScore = own.RSquared,
                    AbsoluteDevExplainedScore = own.AbsoluteDevExplained,
                    ExtraFields = new()
                    {
                        [RecordSourceField] = JsonSerializer.SerializeToElement(scored[i].Source, ExplainJsonContext.Default.String),
                        [RecordIndexField] = JsonSerializer.SerializeToElement(scored[i].Index, ExplainJsonContext.Default.Int32),
                    },
                });
            }
            var all = ScoreCalculator.Score(sequences.Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)));
            results.Add(new ScoredExplanation
            {
                Explanation = explanation,
                ScoredSimulation = new ScoredSimulation
                {
                    ScoredSequenceSimulations = [.. sequences],
                    EvCorrelationScore = all.EvCorrelation,
                    RsquaredScore = all.RSquared,
                    AbsoluteDevExplainedScore = all.AbsoluteDevExplained,
                    ExtraFields = failed.Count == 0 ? null : new()
                    {
                        [FailedSequencesField] = JsonSerializer.SerializeToElement(failed, ExplainJsonContext.Default.ListDictionaryStringObject),
                    },
                },
            });
        }
        // Best first: tools that read one explanation per neuron (scores.jsonl, OpenAI's viewers) take the first.
        var ordered = results.OrderByDescending(e => e.ScoredSimulation.EvCorrelationScore ?? double.NegativeInfinity).ToArray();
        return new NeuronSimulationOutcome(new NeuronSimulationResults { NeuronId = record.NeuronId, ScoredExplanations = ordered }, failures);
    }

    private async Task<SimulationParse> SimulateSequenceAsync(string explanation, string[] tokens, CancellationToken cancellationToken)
    {
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

    /// <summary>The scores.jsonl line of a results file: its first explanation, top-only and random-only split by "record_source".</summary>
    public static NeuronScoreLine? ScoreLine(NeuronSimulationResults results)
    {
        if (results.ScoredExplanations.Length == 0) return null;
        var first = results.ScoredExplanations[0];
        var sequences = first.ScoredSimulation.ScoredSequenceSimulations;
        bool IsTop(ScoredSequenceSimulation s, int i) =>
            s.ExtraFields?.TryGetValue(RecordSourceField, out var source) == true && source.ValueKind == JsonValueKind.String
                ? source.GetString() == "top"
                : i < (sequences.Length + 1) / 2; // files without the marker: OpenAI's halves, the middle one top
        var top = sequences.Where(IsTop).Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)).ToArray();
        var random = sequences.Where((s, i) => !IsTop(s, i)).Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)).ToArray();
        var variants = ScoreCalculator.ScoreVariants([.. top, .. random], top.Length);
        return new NeuronScoreLine(results.NeuronId.LayerIndex, results.NeuronId.NeuronIndex, first.Explanation,
            variants.TopAndRandom.EvCorrelation, variants.TopAndRandom.RSquared, variants.TopAndRandom.AbsoluteDevExplained,
            variants.TopOnly.EvCorrelation, variants.RandomOnly.EvCorrelation);
    }
}
