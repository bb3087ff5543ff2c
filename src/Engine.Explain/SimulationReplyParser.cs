using System.Globalization;
using System.Text;
using System.Text.Json;
using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>
/// A simulator reply read: the simulation, or why the sequence failed. <see cref="PositionsWithoutNumericAlternative"/>
/// counts positions given 0 because no value 0–10 was offered there (echo mode, as OpenAI's parser does).
/// </summary>
public sealed record SimulationParse(SequenceSimulation? Simulation, string? Failure)
{
    public int PositionsWithoutNumericAlternative { get; init; }

    public static SimulationParse Fail(string reason) => new(null, reason);
}

/// <summary>
/// Turns chat simulator replies into OpenAI SequenceSimulations (echo replies: <see cref="EchoSimulationParser"/>).
/// Any mismatch — wrong number of tokens, a different token, an unreadable value — fails that sequence
/// with the reason; nothing here throws.
/// </summary>
public static class SimulationReplyParser
{
    /// <summary>OpenAI's ActivationScale for values on the prompt's 0–10 scale.</summary>
    public const string NormalizedScale = "simulated_normalized_activations";

    /// <summary>
    /// Logprobs mode: the reply's block (after "&lt;start&gt;" when present) must hold one "token	value" line
    /// per token, tokens raw as in the prompt (a token may differ from the prompt's by surrounding
    /// whitespace only); at each value's first character the top logprobs are read, the alternatives that
    /// continue to an integer 0–10 kept, renormalised, and their expected value taken. The logprob tokens are laid
    /// onto the reply text by bytes (<see cref="TokenAlignment"/>: llama.cpp's cut fragments, vLLM's U+FFFD ones, raw
    /// "Ġ"/"ĉ" pieces); where they describe text the reply does not hold (a reasoning part), their own text is read.
    /// </summary>
    public static SimulationParse ParseLogprobs(IReadOnlyList<string> tokens, LlmReply reply)
    {
        if (reply.Logprobs is not { Count: > 0 } logprobs)
            return SimulationParse.Fail("the reply carries no logprobs (the endpoint or model does not return them; use --simulator-mode json)");
        string? failure = null;
        var aligned = TokenAlignment.Align(reply.Text, logprobs, out _) ?? TokenAlignment.Align(TokenAlignment.OwnText(logprobs), logprobs, out failure);
        if (aligned is null) return SimulationParse.Fail($"the reply's logprobs do not line up with its text: {failure}");
        string generated = Encoding.UTF8.GetString(aligned.Bytes);

        int at = BlockStart(generated, tokens);
        var expected = new double[tokens.Count];
        var distributionValues = new double[tokens.Count][];
        var distributionProbabilities = new double[tokens.Count][];
        for (int i = 0; i < tokens.Count; i++)
        {
            int tab;
            if (generated.AsSpan(at).StartsWith(tokens[i] + "\t", StringComparison.Ordinal)) tab = at + tokens[i].Length;
            else
            {
                tab = generated.IndexOf('\t', at);
                int end = generated.IndexOf("<end>", at, StringComparison.Ordinal);
                if (tab < 0 || (end >= 0 && end < tab)) return SimulationParse.Fail($"expected {tokens.Count} token lines, got {i}");
                string written = generated[at..tab];
                if (written.Trim() != tokens[i].Trim())
                    return SimulationParse.Fail($"token {i}: expected '{ActivationFormat.DisplayToken(tokens[i])}', got '{ActivationFormat.DisplayToken(written)}'");
            }
            int valueOffset = tab + 1;
            while (valueOffset < generated.Length && generated[valueOffset] == ' ') valueOffset++;
            if (valueOffset >= generated.Length) return SimulationParse.Fail($"token {i}: the value is missing");
            // The token holding the value's first byte (the tokens tile the text, so the last to start at or before it),
            // and what of it comes before the value.
            int valueByte = Encoding.UTF8.GetByteCount(generated.AsSpan(0, valueOffset));
            int logprob = Array.FindLastIndex(aligned.Start, s => s <= valueByte);
            var prefix = aligned.Bytes.AsSpan(aligned.Start[logprob], valueByte - aligned.Start[logprob]);
            var probabilities = new double[ActivationFormat.MaxNormalizedValue + 1];
            var chosen = new LlmTopLogprob(logprobs[logprob].Token, logprobs[logprob].Logprob) { Bytes = aligned.Of(logprob).ToArray() };
            var alternatives = logprobs[logprob].Top.Any(t => aligned.AlternativeBytes(t).AsSpan().SequenceEqual(chosen.Bytes))
                ? logprobs[logprob].Top
                : logprobs[logprob].Top.Append(chosen);
            foreach (var alternative in alternatives)
                if (aligned.AlternativeBytes(alternative) is var bytes && bytes.AsSpan().StartsWith(prefix)
                    && ReadValue(Encoding.UTF8.GetString(bytes, prefix.Length, bytes.Length - prefix.Length)) is int v)
                    probabilities[v] += Math.Exp(alternative.Logprob);
            double total = probabilities.Sum();
            if (!(total > 0))
                return SimulationParse.Fail($"token {i}: no value 0-10 among the top logprobs at its value position");
            var values = Enumerable.Range(0, probabilities.Length).Where(v => probabilities[v] > 0).ToArray();
            distributionValues[i] = values.Select(v => (double)v).ToArray();
            distributionProbabilities[i] = values.Select(v => probabilities[v] / total).ToArray();
            expected[i] = values.Sum(v => v * probabilities[v] / total);
            int lineEnd = generated.IndexOf('\n', valueOffset);
            at = lineEnd < 0 ? generated.Length : lineEnd + 1;
        }
        string rest = generated[at..];
        int restEnd = rest.IndexOf("<end>", StringComparison.Ordinal);
        if ((restEnd < 0 ? rest : rest[..restEnd]).Contains('\t'))
            return SimulationParse.Fail($"expected {tokens.Count} token lines, got more");
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
                return SimulationParse.Fail($"token {i}: expected '{ActivationFormat.DisplayToken(tokens[i])}', got '{ActivationFormat.DisplayToken(token)}'");
            if (value is not double v || v != Math.Floor(v) || v < 0 || v > ActivationFormat.MaxNormalizedValue)
                return SimulationParse.Fail($"token {i}: activation {value?.ToString(CultureInfo.InvariantCulture) ?? "null"} is not an integer 0-10");
            expected[i] = v;
        }
        return new SimulationParse(Simulation(tokens, expected,
            expected.Select(v => new[] { v }).ToArray(), expected.Select(_ => new[] { 1.0 }).ToArray()), null);
    }

    internal static SequenceSimulation Simulation(IReadOnlyList<string> tokens, double[] expected, double[][] values, double[][] probabilities) => new()
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

    /// <summary>Where the token lines start: after "&lt;start&gt;" and its newline, else after leading newlines (unless a token is one).</summary>
    private static int BlockStart(string text, IReadOnlyList<string> tokens)
    {
        int start = text.IndexOf("<start>", StringComparison.Ordinal);
        if (start >= 0)
        {
            int at = start + "<start>".Length;
            return at < text.Length && text[at] == '\n' ? at + 1 : at;
        }
        int skip = 0;
        if (tokens.Count == 0 || !tokens[0].StartsWith('\n'))
            while (skip < text.Length && text[skip] == '\n') skip++;
        return skip;
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
