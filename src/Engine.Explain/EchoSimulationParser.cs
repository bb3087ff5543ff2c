using System.Globalization;
using System.Text;

namespace NeuronEngine.Explain;

/// <summary>
/// Reads an echo-mode reply as OpenAI's parse_simulation_response does (explanations/simulator.py), with the echoed
/// tokens first laid onto the prompt's bytes (<see cref="TokenAlignment"/>) so that no step depends on how the server
/// wrote its token strings (vLLM's U+FFFD fragments, raw "Ġ" pieces, OpenAI's "bytes:\xNN"). From the last
/// "&lt;start&gt;", every "unknown" token right after a "\t" token is the value position of the next token under
/// test, whose own bytes must be the token two back (or end there when the simulator's tokenizer split it). The
/// position's top logprobs over exactly the tokens "0"…"10" are renormalised into a distribution and its expected
/// value. Where the simulator offered none of them the expected value is 0 with an empty distribution, as in
/// OpenAI's code (counted: <see cref="SimulationParse.PositionsWithoutNumericAlternative"/>); so is a position where
/// the newline before a token line was folded into the token. Where OpenAI's code would stop on an assertion (a
/// token that does not match, no "&lt;end&gt;" after the last one, fewer positions than tokens) the sequence fails
/// with the reason. OpenAI checks the end as the tokens "&lt;" and "end" after the last line ("TODO: generalize to
/// other tokenizers"); here it is the bytes "\n&lt;end&gt;", whatever the tokens.
/// </summary>
public static class EchoSimulationParser
{
    public static SimulationParse Parse(IReadOnlyList<string> tokens, LlmReply reply)
    {
        if (!reply.Text.Contains("<start>", StringComparison.Ordinal))
            return SimulationParse.Fail("the /completions reply does not echo the prompt (its text holds no <start>): the server ignores \"echo\" "
                + "(Ollama's /v1/completions has no such field); use --simulator-mode logprobs or json");
        if (reply.Logprobs is not { Count: > 0 } logprobs)
            return SimulationParse.Fail("the /completions reply carries no prompt tokens with logprobs "
                + "(the server must support echo with logprobs and max_tokens 0; else use --simulator-mode logprobs or json)");
        if (TokenAlignment.Align(reply.Text, logprobs, out string? failure) is not { } aligned)
        {
            string own = TokenAlignment.OwnText(logprobs);
            return SimulationParse.Fail(own.Contains("<start>", StringComparison.Ordinal)
                ? $"the echoed prompt and its tokens do not line up: {failure}"
                : $"the reply's logprobs cover {logprobs.Count} token(s) ('{Clip(own)}'), not the echoed prompt's "
                    + "last <start> block: the server returns logprobs for generated tokens only, not for an echoed prompt");
        }

        int scoringStart = aligned.Bytes.AsSpan().LastIndexOf("<start>"u8);
        var expected = new List<double>(tokens.Count);
        var distributionValues = new List<double[]>(tokens.Count);
        var distributionProbabilities = new List<double[]>(tokens.Count);
        int withoutNumeric = 0;
        try
        {
            for (int i = 2; i < aligned.Count && expected.Count < tokens.Count; i++)
            {
                if (aligned.Start[i] < scoringStart || !aligned.Of(i - 1).SequenceEqual("\t"u8) || !aligned.Of(i).SequenceEqual("unknown"u8)) continue;
                int j = i - 2;
                byte[] current = Encoding.UTF8.GetBytes(tokens[expected.Count]);
                if (aligned.Of(j).SequenceEqual(current) || WasTokenSplit(expected.Count, current, aligned, j))
                {
                    var (values, probabilities, value) = Distribution(logprobs[i].Top.Select(t => t with { Token = aligned.AlternativeText(t) }).ToArray());
                    if (values.Length == 0) withoutNumeric++;
                    distributionValues.Add(values);
                    distributionProbabilities.Add(probabilities);
                    expected.Add(value);
                }
                else
                {
                    if (!aligned.Of(j).Contains((byte)'\n'))
                        throw new ParseFailure($"token {expected.Count}: expected '{ActivationFormat.DisplayToken(tokens[expected.Count])}' before its tab, the echoed prompt has '{Show(aligned.Of(j))}'");
                    // The newline before the line was folded into the token: the model never saw the token alone.
                    withoutNumeric++;
                    distributionValues.Add([]);
                    distributionProbabilities.Add([]);
                    expected.Add(0);
                }
                if (expected.Count == tokens.Count && !aligned.Bytes.AsSpan(aligned.End[i]).StartsWith("\n<end>"u8))
                    throw new ParseFailure($"after the last token the echoed prompt does not go on with \"<end>\" (it goes on with '{Show(aligned.Bytes.AsSpan(aligned.End[i])[..Math.Min(16, aligned.Bytes.Length - aligned.End[i])])}')");
            }
        }
        catch (ParseFailure e)
        {
            return SimulationParse.Fail(e.Message);
        }
        if (expected.Count != tokens.Count)
            return SimulationParse.Fail($"found {expected.Count} of {tokens.Count} \"unknown\" value positions in the echoed prompt "
                + "(the simulator's tokenizer must keep \"\\t\" and \"unknown\" as tokens of their own, as OpenAI's parser expects)");
        return new SimulationParse(SimulationReplyParser.Simulation(tokens, [.. expected], [.. distributionValues], [.. distributionProbabilities]), null)
        {
            PositionsWithoutNumericAlternative = withoutNumeric,
        };
    }

    /// <summary>
    /// The alternatives that are exactly "0"…"10", in the order given (a repeated token keeps its first
    /// place and its last value, as a Python dict does), renormalised; the expected value is 0 when there is none.
    /// </summary>
    internal static (double[] Values, double[] Probabilities, double Expected) Distribution(IReadOnlyList<LlmTopLogprob> top)
    {
        var order = new List<int>();
        var probability = new Dictionary<int, double>();
        foreach (var alternative in top)
        {
            if (!IsActivationToken(alternative.Token)) continue;
            int value = int.Parse(alternative.Token, CultureInfo.InvariantCulture);
            if (!probability.ContainsKey(value)) order.Add(value);
            probability[value] = Math.Exp(alternative.Logprob);
        }
        double total = order.Sum(v => probability[v]);
        var probabilities = order.Select(v => probability[v] / total).ToArray();
        double expected = 0;
        for (int k = 0; k < order.Count; k++) expected += order[k] * probabilities[k];
        return (order.Select(v => (double)v).ToArray(), probabilities, expected);
    }

    /// <summary>OpenAI's VALID_ACTIVATION_TOKENS: "0", "1", …, "10", nothing else (no space, no leading zero).</summary>
    private static bool IsActivationToken(string token) =>
        token.Length is 1 or 2 && token.All(char.IsAsciiDigit) && (token.Length == 1 || token == "10");

    /// <summary>
    /// OpenAI's was_token_split, in bytes: merge the tokens backwards from <paramref name="startIndex"/> until they
    /// hold at least the token's bytes; they must end with it; true when more than one was needed. (OpenAI's
    /// handle_byte_encoding, merging "bytes:" tokens until they decode, is not needed: the tokens are bytes already.)
    /// </summary>
    private static bool WasTokenSplit(int position, byte[] current, AlignedTokens aligned, int startIndex)
    {
        int end = aligned.End[startIndex], from = end, index = startIndex;
        while (end - from < current.Length)
        {
            if (index < 0) throw new ParseFailure($"token {position}: '{Show(current)}' runs past the start of the echoed prompt");
            from = aligned.Start[index--];
        }
        if (!aligned.Bytes.AsSpan(from, end - from).EndsWith(current))
            throw new ParseFailure($"token {position}: expected '{Show(current)}' before its tab, the echoed prompt has '{Show(aligned.Bytes.AsSpan(from, end - from))}'");
        return startIndex - index > 1;
    }

    private static string Show(ReadOnlySpan<byte> bytes) => ActivationFormat.DisplayToken(Encoding.UTF8.GetString(bytes));

    private static string Clip(string text) => ActivationFormat.DisplayToken(text.Length <= 40 ? text : text[..40] + "…");

    private sealed class ParseFailure(string message) : Exception(message);
}
