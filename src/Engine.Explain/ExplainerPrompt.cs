using NeuronEngine.Records;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>An explainer prompt and how much of the material fitted the context budget.</summary>
public sealed record ExplainerPromptBuild(IReadOnlyList<LlmMessage> Messages, int RecordsShown, int ExamplesShown, int EstimatedTokens);

/// <summary>
/// OpenAI's TokenActivationPairExplainer prompt (explanations/explainer.py) in its chat-messages format
/// (PromptFormat.HARMONY_V4, docs/design.md §5): OpenAI's system message; per few-shot neuron a user message
/// "\n\nNeuron i\nActivations:" + the records block (+ the zero-filtered repeat when under 20% of values are
/// non-zero) + "\nExplanation of neuron i behavior: the main thing this neuron does is find", answered by
/// the assistant with " {explanation}."; the real neuron last, for the model to complete. The few-shot
/// neurons are our own (<see cref="FewShotExamples"/>).
/// </summary>
public static class ExplainerPrompt
{
    /// <summary>Below this share of non-zero values the records are repeated with the zeros removed.</summary>
    public const double RepeatNonZeroBelow = 0.2;

    public const string SystemMessage =
        "We're studying neurons in a neural network. Each neuron looks for some particular thing in a short document. "
        + "Look at the parts of the document the neuron activates for and summarize in a single sentence what the neuron "
        + "is looking for. Don't list examples of words.\n\n"
        + "The activation format is token<tab>activation. Activation values range from 0 to 10. A neuron finding what "
        + "it's looking for is represented by a non-zero activation value. The higher the activation value, the stronger "
        + "the match.";

    /// <summary>The full prompt for <paramref name="records"/> after <paramref name="examples"/>.</summary>
    public static IReadOnlyList<LlmMessage> Build(IReadOnlyList<ActivationRecord> records, IReadOnlyList<FewShotExample> examples)
    {
        var messages = new List<LlmMessage> { new(LlmRole.System, SystemMessage) };
        for (int i = 0; i < examples.Count; i++)
        {
            messages.Add(new(LlmRole.User, NeuronMessage(i + 1, examples[i].Records)));
            messages.Add(new(LlmRole.Assistant, $" {examples[i].Explanation}."));
        }
        messages.Add(new(LlmRole.User, NeuronMessage(examples.Count + 1, records)));
        return messages;
    }

    /// <summary>
    /// The largest prompt within <paramref name="tokenBudget"/> (estimated): drops few-shot examples from
    /// the last, then the neuron's lowest-ranked records, keeping at least one record. Null when even one
    /// record without examples does not fit. (OpenAI's 4k-context version drops one record per few-shot
    /// example instead; with today's context windows neither usually triggers.)
    /// </summary>
    public static ExplainerPromptBuild? BuildToFit(IReadOnlyList<ActivationRecord> records, IReadOnlyList<FewShotExample> examples, int tokenBudget)
    {
        int exampleCount = examples.Count, recordCount = records.Count;
        while (true)
        {
            var messages = Build(records.Take(recordCount).ToArray(), examples.Take(exampleCount).ToArray());
            int estimate = messages.Sum(m => ActivationFormat.EstimateTokens(m.Text));
            if (estimate <= tokenBudget) return new ExplainerPromptBuild(messages, recordCount, exampleCount, estimate);
            if (exampleCount > 0) exampleCount--;
            else if (recordCount > 1) recordCount--;
            else return null;
        }
    }

    /// <summary>
    /// "\n\nNeuron N\nActivations:" + records block + [ "\nSame activations, but with all zeros filtered out:" +
    /// block ] + "\nExplanation of neuron N behavior: the main thing this neuron does is find". Values are
    /// normalised by the max over the records shown.
    /// </summary>
    public static string NeuronMessage(int number, IReadOnlyList<ActivationRecord> records)
    {
        double max = ActivationFormat.MaxActivation(records);
        string text = $"\n\nNeuron {number}\nActivations:{ActivationFormat.FormatActivationRecords(records, max)}";
        if (ActivationFormat.NonZeroProportion(records, max) < RepeatNonZeroBelow)
            text += $"\nSame activations, but with all zeros filtered out:{ActivationFormat.FormatActivationRecords(records, max, omitZeros: true)}";
        return text + $"\nExplanation of neuron {number} behavior: {ActivationFormat.ExplanationPrefix}";
    }

    /// <summary>
    /// The explanation as OpenAI keeps it: the completion, here trimmed of surrounding whitespace only (the
    /// reply to "… does is find" starts with a space). Null when nothing is left.
    /// </summary>
    public static string? Completion(string reply)
    {
        string trimmed = reply.Trim();
        return trimmed.Length == 0 ? null : trimmed;
    }

    /// <summary>
    /// A cleaned form for reading (not what is simulated): the first non-empty line, with a repeated prefix,
    /// surrounding quotes and the final period removed. Null when nothing is left.
    /// </summary>
    public static string? CleanExplanation(string reply)
    {
        string line = reply.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
        int prefix = line.IndexOf(ActivationFormat.ExplanationPrefix, StringComparison.OrdinalIgnoreCase);
        if (prefix >= 0) line = line[(prefix + ActivationFormat.ExplanationPrefix.Length)..].Trim();
        line = line.TrimEnd('.').Trim();
        if (line.Length >= 2 && line[0] == '"' && line[^1] == '"' && line.Count(c => c == '"') == 2) line = line[1..^1].Trim(); // a quoted reply, not a quoted word
        line = line.TrimEnd('.').Trim();
        return line.Length == 0 ? null : line;
    }
}
