using System.Text;
using NeuronEngine.Records;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>How the simulator's predictions are obtained and read (docs/design.md §5; README "Simulator modes").</summary>
public enum SimulatorMode
{
    /// <summary>Chat: the model rewrites the block with values; the expected value comes from the top logprobs at each value.</summary>
    Logprobs,
    /// <summary>Chat with structured output: the token list with integer 0–10 values, for endpoints without logprobs.</summary>
    Json,
    /// <summary>
    /// OpenAI's method: one /completions call with echo, max_tokens 0 and logprobs over OpenAI's all-at-once
    /// prompt; the prompt's own logprobs at each "unknown" give the distribution.
    /// </summary>
    Echo,
}

/// <summary>
/// The simulator prompts, built from OpenAI's ExplanationNeuronSimulator prompt (explanations/simulator.py):
/// its system message, then per few-shot neuron "\n\nNeuron i\nExplanation of neuron i behavior: the main
/// thing this neuron does is find {explanation}" and "\nActivations: " + its records, then the neuron under
/// test with the explanation as given (trimmed, no period added) and its tokens all "unknown"
/// (format_sequences_for_simulation). Echo mode sends exactly that as one completion prompt (the messages
/// joined, OpenAI's PromptFormat.NONE). The chat modes cannot end the prompt inside the assistant's turn,
/// so the tokens to predict close the last user message, the reply format is appended to the system
/// message, and the few-shot answers show every value.
/// </summary>
public static class SimulatorPrompt
{
    /// <summary>OpenAI's system message of the all-at-once simulator.</summary>
    public const string SystemMessage =
        "We're studying neurons in a neural network.\nEach neuron looks for some particular thing in a short document.\n"
        + "Look at summary of what the neuron does, and try to predict how it will fire on each token.\n\n"
        + "The activation format is token<tab>activation, activations go from 0 to 10, \"unknown\" indicates an unknown "
        + "activation. Most activations will be 0.\n";

    public const string LogprobsReplyFormat =
        "\nReply with the same <start>…<end> block: one line per token, in the same order, each \"unknown\" replaced by "
        + "your predicted activation, an integer from 0 to 10. Write nothing else.";

    public const string JsonReplyFormat =
        "\nReply with JSON only: {\"activations\": [{\"token\": \"…\", \"activation\": 0}, …]}, one entry per token in the "
        + "same order, each token written exactly as given and each activation an integer from 0 to 10.";

    /// <summary>
    /// The JSON schema of a json-mode reply. The 0–10 range is in the instructions and checked on reading, not
    /// in the schema: strict structured-output modes of some servers reject "minimum"/"maximum".
    /// </summary>
    public const string JsonSchema =
        """{"type":"object","properties":{"activations":{"type":"array","items":{"type":"object","properties":{"token":{"type":"string"},"activation":{"type":"integer"}},"required":["token","activation"],"additionalProperties":false}}},"required":["activations"],"additionalProperties":false}""";

    /// <summary>Echo mode: OpenAI's all-at-once prompt as one string, ending in the block of "unknown"s.</summary>
    public static string BuildEcho(string explanation, IReadOnlyList<string> tokens, IReadOnlyList<FewShotExample> examples)
    {
        var prompt = new StringBuilder(SystemMessage);
        for (int i = 0; i < examples.Count; i++)
        {
            var example = examples[i];
            prompt.Append(ExplanationMessage(i + 1, example.Explanation)).Append(ActivationsPrefix)
                .Append(ActivationFormat.FormatActivationRecords(example.Records, ActivationFormat.MaxActivation(example.Records), firstRevealed: example.FirstRevealed));
        }
        return prompt.Append(ExplanationMessage(examples.Count + 1, explanation.Trim())).Append(ActivationsPrefix)
            .Append(ActivationFormat.FormatSequencesForSimulation([tokens])).ToString();
    }

    /// <summary>The chat modes' messages (<see cref="SimulatorMode.Logprobs"/> or <see cref="SimulatorMode.Json"/>).</summary>
    public static IReadOnlyList<LlmMessage> Build(string explanation, IReadOnlyList<string> tokens, IReadOnlyList<FewShotExample> examples, SimulatorMode mode)
    {
        if (mode == SimulatorMode.Echo) throw new ArgumentException("echo mode sends one completion prompt: use BuildEcho", nameof(mode));
        bool json = mode == SimulatorMode.Json;
        var messages = new List<LlmMessage> { new(LlmRole.System, SystemMessage + (json ? JsonReplyFormat : LogprobsReplyFormat)) };
        for (int i = 0; i < examples.Count; i++)
        {
            // JSON answers hold one token list, so the json mode shows each example's first record only.
            var records = json ? examples[i].Records.Take(1).ToArray() : examples[i].Records;
            double max = ActivationFormat.MaxActivation(examples[i].Records);
            messages.Add(new(LlmRole.User, Question(i + 1, examples[i].Explanation, records.Select(r => (IReadOnlyList<string>)r.Tokens).ToArray())));
            messages.Add(new(LlmRole.Assistant, json ? JsonAnswer(records[0], max) : ActivationFormat.FormatActivationRecords(records, max)));
        }
        messages.Add(new(LlmRole.User, Question(examples.Count + 1, explanation.Trim(), [tokens])));
        return messages;
    }

    /// <summary>"\n\nNeuron N\nExplanation of neuron N behavior: the main thing this neuron does is find X" + "\nActivations: " + the "unknown" block.</summary>
    public static string Question(int number, string explanation, IReadOnlyList<IReadOnlyList<string>> sequences) =>
        ExplanationMessage(number, explanation) + ActivationsPrefix + ActivationFormat.FormatSequencesForSimulation(sequences);

    private const string ActivationsPrefix = "\nActivations: ";

    private static string ExplanationMessage(int number, string explanation) =>
        $"\n\nNeuron {number}\nExplanation of neuron {number} behavior: {ActivationFormat.ExplanationPrefix} {explanation}";

    private static string JsonAnswer(ActivationRecord record, double max)
    {
        var values = ActivationFormat.Normalize(record.Activations, max);
        var entries = record.Tokens.Select((t, i) => new SimulatedToken(t, values[i])).ToArray();
        return System.Text.Json.JsonSerializer.Serialize(new SimulatedTokens(entries), ExplainJsonContext.Default.SimulatedTokens);
    }
}
