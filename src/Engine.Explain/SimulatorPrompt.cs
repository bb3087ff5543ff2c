using NeuronEngine.Records;

namespace NeuronEngine.Explain;

/// <summary>How the simulator's predictions are read (DESIGN §5).</summary>
public enum SimulatorMode
{
    /// <summary>The model rewrites the block with values; the expected value comes from the top logprobs at each value.</summary>
    Logprobs,
    /// <summary>Structured output: the token list with integer 0–10 values, for endpoints without logprobs.</summary>
    Json,
}

/// <summary>
/// The simulator prompt: instructions, few-shot neurons with their explanation and one record answered,
/// then the explanation under test and the sequence with every value "unknown".
/// </summary>
public static class SimulatorPrompt
{
    private const string Instructions =
        "We're studying neurons in a neural network. Each neuron looks for some particular thing in a short document. "
        + "Look at an explanation of what the neuron does, and try to predict its activations on each token.\n\n"
        + "The activation format is token<tab>activation, activations go from 0 to 10, \"unknown\" indicates an unknown "
        + "activation. Most activations will be 0. Newlines and tabs inside tokens are written as \\n and \\t.\n\n";

    public const string LogprobsSystemMessage = Instructions
        + "Reply with the same <start>…<end> block, one line per token in the same order, each \"unknown\" replaced by "
        + "your predicted activation, an integer from 0 to 10. Write nothing else.";

    public const string JsonSystemMessage = Instructions
        + "Reply with JSON only: {\"activations\": [{\"token\": \"…\", \"activation\": 0}, …]}, one entry per token in the "
        + "same order, each token written exactly as given and each activation an integer from 0 to 10.";

    /// <summary>
    /// The JSON schema of a json-mode reply. The 0–10 range is in the instructions and checked on reading, not
    /// in the schema: strict structured-output modes of some servers reject "minimum"/"maximum".
    /// </summary>
    public const string JsonSchema =
        """{"type":"object","properties":{"activations":{"type":"array","items":{"type":"object","properties":{"token":{"type":"string"},"activation":{"type":"integer"}},"required":["token","activation"],"additionalProperties":false}}},"required":["activations"],"additionalProperties":false}""";

    public static IReadOnlyList<LlmMessage> Build(string explanation, IReadOnlyList<string> tokens, IReadOnlyList<FewShotExample> examples, SimulatorMode mode)
    {
        var messages = new List<LlmMessage> { new(LlmRole.System, mode == SimulatorMode.Json ? JsonSystemMessage : LogprobsSystemMessage) };
        for (int i = 0; i < examples.Count; i++)
        {
            var record = examples[i].Records[0];
            double max = ActivationFormat.MaxActivation(examples[i].Records);
            messages.Add(new(LlmRole.User, Question(i + 1, examples[i].Explanation, record.Tokens)));
            messages.Add(new(LlmRole.Assistant, mode == SimulatorMode.Json ? JsonAnswer(record, max) : ActivationFormat.RecordsBlock([record], max)));
        }
        messages.Add(new(LlmRole.User, Question(examples.Count + 1, explanation, tokens)));
        return messages;
    }

    /// <summary>"Neuron N\nExplanation of neuron N behavior: the main thing this neuron does is find X.\nActivations:\n&lt;start&gt;…unknown…".</summary>
    public static string Question(int number, string explanation, IReadOnlyList<string> tokens)
    {
        var unknown = new ActivationRecord { Tokens = tokens.ToArray(), Activations = new double[tokens.Count] };
        return $"Neuron {number}\nExplanation of neuron {number} behavior: {ActivationFormat.ExplanationPrefix} {explanation.TrimEnd('.')}.\n"
            + $"Activations:\n{ActivationFormat.RecordsBlock([unknown], 0, hideValues: true)}";
    }

    private static string JsonAnswer(ActivationRecord record, double max)
    {
        var values = ActivationFormat.Normalize(record.Activations, max);
        var entries = record.Tokens.Select((t, i) => new SimulatedToken(ActivationFormat.DisplayToken(t), values[i])).ToArray();
        return System.Text.Json.JsonSerializer.Serialize(new SimulatedTokens(entries), ExplainJsonContext.Default.SimulatedTokens);
    }
}
