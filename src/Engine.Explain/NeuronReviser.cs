using NeuronEngine.OpenAi;
using NeuronEngine.Scoring;

namespace NeuronEngine.Explain;

/// <summary>What revising a neuron's explanation gave: its candidates in the order written, and why a step failed (or null).</summary>
public sealed record RevisionOutcome(IReadOnlyList<(string Explanation, ExplanationCandidate Candidate)> Candidates, string? Failure);

/// <summary>
/// The revision loop (docs/revise.md), for one neuron after its first explanation: N times, the explainer writes
/// <see cref="ExplainRunOptions.ProbeTexts"/> test texts for the current explanation (half should make the neuron fire,
/// half look similar but should not), the subject model measures them, and the explainer, shown those activations in
/// OpenAI's record layout after its own prompt and answer, writes a revised explanation; the last explanation gets test
/// texts too, so every candidate has a generation score. Every call goes through the gateway (cache, single-flight,
/// retries, budgets). A step that fails (a reply with no usable texts or no explanation, a call that failed after its
/// retries) ends the loop: the neuron keeps the candidates it has, and the failure is reported. A spent budget is not a
/// failure: it stops the run, and a rerun replays the calls from the cache.
/// </summary>
public sealed class NeuronReviser(LlmGateway gateway, ExplainRunOptions options, SubjectModelProbe probe)
{
    public async Task<RevisionOutcome> ReviseAsync(NeuronRecord record, ExplainerPromptBuild prompt, string original, CancellationToken cancellationToken)
    {
        int layer = record.NeuronId.LayerIndex, neuron = record.NeuronId.NeuronIndex, number = prompt.ExamplesShown + 1;
        double recordMax = ActivationFormat.MaxActivation(record.MostPositiveActivationRecords);
        double threshold = GenerationScore.DefaultThresholdShare * recordMax;
        var candidates = new List<(string, ExplanationCandidate)>();
        var conversation = new List<LlmMessage>(prompt.Messages);
        string current = original;
        for (int step = 0; step <= options.Revise; step++)
        {
            string name = step == 0 ? ExplanationCandidate.Original : ExplanationCandidate.Revision(step);
            var candidate = new ExplanationCandidate { Name = name, Order = step };
            try
            {
                var texts = await AskTextsAsync(current, cancellationToken).ConfigureAwait(false);
                if (texts is null)
                {
                    candidates.Add((current, candidate));
                    return new RevisionOutcome(candidates, $"{name}: the explainer's reply holds no usable test texts");
                }
                var measured = await probe.MeasureAsync(layer, neuron, texts, cancellationToken).ConfigureAwait(false);
                candidate = candidate with
                {
                    ProbeTexts = measured,
                    GenerationScore = GenerationScore.Compute(
                        [.. measured.Where(t => t.ShouldFire).Select(t => t.MaxActivation)],
                        [.. measured.Where(t => !t.ShouldFire).Select(t => t.MaxActivation)], threshold),
                };
                candidates.Add((current, candidate));
                if (step == options.Revise) break;
                conversation.Add(new(LlmRole.Assistant, $" {current}")); // the completion as the explainer wrote it
                conversation.Add(new(LlmRole.User, RevisionPrompt.RevisionMessage(number, measured, recordMax)));
                var reply = await gateway.CompleteAsync(new LlmRequest
                {
                    Model = options.ExplainerModel,
                    Messages = [.. conversation],
                    MaxOutputTokens = options.ExplainerMaxOutputTokens,
                    Temperature = options.ExplainerTemperature,
                }, cancellationToken).ConfigureAwait(false);
                current = ExplainerPrompt.Completion(reply.Text)
                    ?? throw new NeuronFailedException($"{ExplanationCandidate.Revision(step + 1)}: the reply holds no explanation");
            }
            catch (Exception e) when (e is LlmCallFailedException or NeuronFailedException)
            {
                if (candidates.Count == step) candidates.Add((current, candidate));
                return new RevisionOutcome(candidates, e.Message);
            }
        }
        return new RevisionOutcome(candidates, null);
    }

    private async Task<ProbeTextRequest?> AskTextsAsync(string explanation, CancellationToken cancellationToken)
    {
        var reply = await gateway.CompleteAsync(new LlmRequest
        {
            Model = options.ExplainerModel,
            Messages = RevisionPrompt.TextsMessages(explanation, options.ProbeTexts),
            MaxOutputTokens = 64 * options.ProbeTexts + 64,
            Temperature = options.ExplainerTemperature,
            JsonSchema = RevisionPrompt.TextsJsonSchema,
        }, cancellationToken).ConfigureAwait(false);
        return RevisionPrompt.ParseTexts(reply.Text, options.ProbeTexts);
    }
}
