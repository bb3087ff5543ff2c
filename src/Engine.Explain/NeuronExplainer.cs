using NeuronEngine.Records;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>Asks the explainer model for a neuron's candidate explanations.</summary>
public sealed class NeuronExplainer(LlmGateway gateway, ExplainRunOptions options)
{
    /// <summary>The explainer prompt of the neuron (its train records after the few-shot examples), fitted to the context.</summary>
    public ExplainerPromptBuild Prompt(NeuronRecord record)
    {
        var train = RecordSplits.Train(record, options.ExamplesPerSplit).Select(r => r.Record).ToArray();
        int budget = options.ContextTokens - options.ExplainerMaxOutputTokens;
        return ExplainerPrompt.BuildToFit(train, options.FewShotExamples, budget)
            ?? throw new NeuronFailedException($"the explainer prompt does not fit --context-tokens {options.ContextTokens} even with one record and no examples");
    }

    public async Task<NeuronExplanations> ExplainAsync(NeuronRecord record, CancellationToken cancellationToken)
    {
        var prompt = Prompt(record);

        var replies = await Task.WhenAll(Enumerable.Range(0, options.Samples).Select(sample => gateway.CompleteAsync(new LlmRequest
        {
            Model = options.ExplainerModel,
            Messages = prompt.Messages,
            MaxOutputTokens = options.ExplainerMaxOutputTokens,
            Temperature = options.ExplainerTemperature,
            SampleIndex = sample,
        }, cancellationToken))).ConfigureAwait(false);

        // Kept as OpenAI keeps it: the completion (trimmed of whitespace), which is what gets simulated.
        var explanations = new List<string>();
        var cleaned = new List<string>();
        var failed = new List<string>();
        for (int i = 0; i < replies.Length; i++)
        {
            if (ExplainerPrompt.Completion(replies[i].Text) is { } completion)
            {
                explanations.Add(completion);
                cleaned.Add(ExplainerPrompt.CleanExplanation(completion) ?? completion);
            }
            else failed.Add($"sample {i}: the reply holds no explanation");
        }
        if (explanations.Count == 0) throw new NeuronFailedException($"no usable explanation in {replies.Length} sample(s): the replies were empty");
        return new NeuronExplanations
        {
            NeuronId = record.NeuronId,
            Explanations = [.. explanations],
            CleanedExplanations = [.. cleaned],
            ExplainerModel = options.ExplainerModel,
            FailedSamples = [.. failed],
        };
    }
}
