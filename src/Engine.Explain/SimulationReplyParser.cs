using System.Globalization;
using System.Text;
using System.Text.Json;
using NeuronEngine.Scoring;

namespace NeuronEngine.Explain;

/// <summary>A simulator reply read: the simulation, or why the sequence failed.</summary>
public sealed record SimulationParse(SequenceSimulation? Simulation, string? Failure)
{
    public static SimulationParse Fail(string reason) => new(null, reason);
}

/// <summary>
/// Turns simulator replies into OpenAI SequenceSimulations. Any mismatch — wrong number of tokens, a
/// different token, an unreadable value — fails that sequence with the reason; nothing here throws.
/// </summary>
public static class SimulationReplyParser
{
    /// <summary>OpenAI's ActivationScale for values on the prompt's 0–10 scale.</summary>
    public const string NormalizedScale = "simulated_normalized_activations";

    /// <summary>
    /// Logprobs mode: the reply's lines `token\tvalue` (inside &lt;start&gt;…&lt;end&gt; when present) must match the
    /// tokens one to one; at each value's first character the top logprobs are read, the alternatives
    /// that continue to an integer 0–10 kept, renormalised, and their expected value taken.
    /// </summary>
    public static SimulationParse ParseLogprobs(IReadOnlyList<string> tokens, LlmReply reply)
    {
        if (reply.Logprobs is not { Count: > 0 } logprobs)
            return SimulationParse.Fail("the reply carries no logprobs (the endpoint or model does not return them; use --simulator-mode json)");
        // Positions are taken in the text the logprobs describe, which is the reply text token by token.
        var starts = new int[logprobs.Count];
        var text = new StringBuilder();
        for (int i = 0; i < logprobs.Count; i++) { starts[i] = text.Length; text.Append(logprobs[i].Token); }
        string generated = text.ToString();

        var lines = ValueLines(generated);
        if (lines.Count != tokens.Count)
            return SimulationParse.Fail($"expected {tokens.Count} token lines, got {lines.Count}");
        var expected = new double[tokens.Count];
        var distributionValues = new double[tokens.Count][];
        var distributionProbabilities = new double[tokens.Count][];
        for (int i = 0; i < tokens.Count; i++)
        {
            var (lineToken, valueOffset) = lines[i];
            if (lineToken is null) return SimulationParse.Fail($"line {i + 1} has no tab between token and value");
            if (!SameToken(tokens[i], lineToken))
                return SimulationParse.Fail($"token {i}: expected '{ActivationFormat.DisplayToken(tokens[i])}', got '{lineToken}'");
            int at = Array.FindLastIndex(starts, s => s <= valueOffset);
            if (at < 0 || valueOffset >= generated.Length)
                return SimulationParse.Fail($"token {i}: the value is missing");
            string prefix = generated[starts[at]..valueOffset];
            var probabilities = new double[ActivationFormat.MaxNormalizedValue + 1];
            var alternatives = logprobs[at].Top.Any(t => t.Token == logprobs[at].Token)
                ? logprobs[at].Top
                : logprobs[at].Top.Append(new LlmTopLogprob(logprobs[at].Token, logprobs[at].Logprob));
            foreach (var alternative in alternatives)
                if (alternative.Token.StartsWith(prefix, StringComparison.Ordinal) && ReadValue(alternative.Token[prefix.Length..]) is int v)
                    probabilities[v] += Math.Exp(alternative.Logprob);
            double total = probabilities.Sum();
            if (!(total > 0))
                return SimulationParse.Fail($"token {i}: no value 0-10 among the top logprobs at its value position");
            var values = Enumerable.Range(0, probabilities.Length).Where(v => probabilities[v] > 0).ToArray();
            distributionValues[i] = values.Select(v => (double)v).ToArray();
            distributionProbabilities[i] = values.Select(v => probabilities[v] / total).ToArray();
            expected[i] = values.Sum(v => v * probabilities[v] / total);
        }
        return new SimulationParse(Simulation(tokens, expected, distributionValues, distributionProbabilities), null);
    }

    /// <summary>JSON mode: {"activations": [{"token", "activation"}…]} (or the bare array) matching the tokens one to one.</summary>
    public static SimulationParse ParseJson(IReadOnlyList<string> tokens, LlmReply reply)
    {
        SimulatedTokens? parsed;
        try
        {
            string json = StripCodeFence(reply.Text);
            parsed = json.StartsWith('[')
                ? new SimulatedTokens(JsonSerializer.Deserialize(json, ExplainJsonContext.Default.SimulatedTokenArray) ?? [])
                : JsonSerializer.Deserialize(json, ExplainJsonContext.Default.SimulatedTokens);
        }
        catch (JsonException e)
        {
            return SimulationParse.Fail($"unparseable JSON reply: {e.Message}");
        }
        if (parsed?.Activations is not { } entries) return SimulationParse.Fail("the JSON reply has no \"activations\" list");
        if (entries.Length != tokens.Count) return SimulationParse.Fail($"expected {tokens.Count} tokens, got {entries.Length}");
        var expected = new double[tokens.Count];
        for (int i = 0; i < entries.Length; i++)
        {
            if (entries[i] is not { Token: { } token, Activation: var value })
                return SimulationParse.Fail($"token {i}: the entry has no token");
            if (!SameToken(tokens[i], token))
                return SimulationParse.Fail($"token {i}: expected '{ActivationFormat.DisplayToken(tokens[i])}', got '{token}'");
            if (value is not double v || v != Math.Floor(v) || v < 0 || v > ActivationFormat.MaxNormalizedValue)
                return SimulationParse.Fail($"token {i}: activation {value?.ToString(CultureInfo.InvariantCulture) ?? "null"} is not an integer 0-10");
            expected[i] = v;
        }
        return new SimulationParse(Simulation(tokens, expected,
            expected.Select(v => new[] { v }).ToArray(), expected.Select(_ => new[] { 1.0 }).ToArray()), null);
    }

    private static SequenceSimulation Simulation(IReadOnlyList<string> tokens, double[] expected, double[][] values, double[][] probabilities) => new()
    {
        Tokens = tokens.ToArray(),
        ExpectedActivations = expected,
        ActivationScale = NormalizedScale,
        DistributionValues = values,
        DistributionProbabilities = probabilities,
    };

    /// <summary>Tokens compare in their displayed form without surrounding whitespace (models drop leading spaces).</summary>
    private static bool SameToken(string expected, string got) =>
        ActivationFormat.DisplayToken(expected).Trim() == ActivationFormat.DisplayToken(got).Trim();

    /// <summary>The value lines of a reply: token text (null if the line has no tab) and the offset where its value starts.</summary>
    private static List<(string? Token, int ValueOffset)> ValueLines(string text)
    {
        var lines = new List<(string?, int)>();
        bool sawStart = text.Contains("<start>", StringComparison.Ordinal), inside = !sawStart;
        int lineStart = 0;
        while (lineStart <= text.Length)
        {
            int end = text.IndexOf('\n', lineStart);
            if (end < 0) end = text.Length;
            string line = text[lineStart..end];
            string trimmed = line.Trim();
            if (trimmed == "<start>") inside = true;
            else if (trimmed == "<end>") { if (inside && sawStart) break; }
            else if (inside && trimmed.Length > 0)
            {
                int tab = line.LastIndexOf('\t');
                if (tab < 0) lines.Add((null, -1));
                else
                {
                    int value = lineStart + tab + 1;
                    while (value < end && text[value] == ' ') value++;
                    lines.Add((line[..tab], value));
                }
            }
            lineStart = end + 1;
        }
        return lines;
    }

    /// <summary>"7", "7\n", "10 " → the integer; anything else (other text, out of range) → null.</summary>
    private static int? ReadValue(string continuation)
    {
        int digits = 0;
        while (digits < continuation.Length && char.IsAsciiDigit(continuation[digits])) digits++;
        if (digits == 0 || digits > 2 || continuation[digits..].Trim().Length > 0) return null;
        int v = int.Parse(continuation[..digits], CultureInfo.InvariantCulture);
        return v <= ActivationFormat.MaxNormalizedValue ? v : null;
    }

    private static string StripCodeFence(string text)
    {
        string t = text.Trim();
        if (!t.StartsWith("```", StringComparison.Ordinal)) return t;
        int firstLine = t.IndexOf('\n');
        int close = t.LastIndexOf("```", StringComparison.Ordinal);
        return firstLine > 0 && close > firstLine ? t[(firstLine + 1)..close].Trim() : t;
    }
}
