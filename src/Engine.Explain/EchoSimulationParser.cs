using System.Globalization;
using System.Text;

namespace NeuronEngine.Explain;

/// <summary>
/// Reads an echo-mode reply as OpenAI's parse_simulation_response does (explanations/simulator.py): walk
/// the echoed prompt's tokens from the last "&lt;start&gt;"; every "unknown" right after a "\t" token is the
/// value position of the next token under test, whose own text must be the token two back (or end there
/// when the simulator's tokenizer split it, "bytes:" tokens merged). The position's top logprobs over
/// exactly the tokens "0"…"10" are renormalised into a distribution and its expected value. Where the
/// simulator offered none of them the expected value is 0 with an empty distribution, as in OpenAI's code
/// (counted: <see cref="SimulationParse.PositionsWithoutNumericAlternative"/>); so is a position where the
/// newline before a token line was folded into the token. Where OpenAI's code would stop on an assertion
/// (a token that does not match, no "&lt;end&gt;" after the last one, fewer positions than tokens) the
/// sequence fails with the reason.
/// </summary>
public static class EchoSimulationParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static SimulationParse Parse(IReadOnlyList<string> tokens, LlmReply reply)
    {
        if (reply.Logprobs is not { Count: > 0 } logprobs || reply.TextOffsets is not { } offsets || offsets.Count != logprobs.Count)
            return SimulationParse.Fail("the /completions reply carries no prompt tokens with logprobs and text offsets "
                + "(the server must support echo with logprobs and max_tokens 0; else use --simulator-mode logprobs or json)");
        var responseTokens = logprobs.Select(l => l.Token).ToArray();
        int scoringStart = reply.Text.LastIndexOf("<start>", StringComparison.Ordinal);
        if (scoringStart >= 0 && offsets[0] > scoringStart)
            return SimulationParse.Fail($"the reply's logprobs cover {logprobs.Count} token(s) from offset {offsets[0]}, not the echoed prompt's "
                + "last <start> block: the server returns logprobs for generated tokens only, not for an echoed prompt");
        var expected = new List<double>(tokens.Count);
        var distributionValues = new List<double[]>(tokens.Count);
        var distributionProbabilities = new List<double[]>(tokens.Count);
        int withoutNumeric = 0;
        try
        {
            for (int i = 2; i < responseTokens.Length; i++)
            {
                if (expected.Count == tokens.Count)
                {
                    bool reachedEnd = i + 2 < responseTokens.Length && responseTokens[i + 1] == "<" && responseTokens[i + 2] == "end";
                    if (!reachedEnd) throw new ParseFailure($"after the last token the echoed prompt does not go on with \"<end>\" (tokens {Around(responseTokens, i)})");
                    break;
                }
                if (offsets[i] < scoringStart || responseTokens[i - 1] != "\t" || responseTokens[i] != ActivationFormat.UnknownValue) continue;
                int j = i - 2;
                string current = tokens[expected.Count];
                if (current == responseTokens[j] || WasTokenSplit(expected.Count, current, responseTokens, j))
                {
                    var (values, probabilities, value) = Distribution(logprobs[i].Top);
                    if (values.Length == 0) withoutNumeric++;
                    distributionValues.Add(values);
                    distributionProbabilities.Add(probabilities);
                    expected.Add(value);
                }
                else
                {
                    if (!responseTokens[j].Contains('\n'))
                        throw new ParseFailure($"token {expected.Count}: expected '{ActivationFormat.DisplayToken(current)}' before its tab, the echoed prompt has '{ActivationFormat.DisplayToken(responseTokens[j])}'");
                    // The newline before the line was folded into the token: the model never saw the token alone.
                    withoutNumeric++;
                    distributionValues.Add([]);
                    distributionProbabilities.Add([]);
                    expected.Add(0);
                }
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
    /// OpenAI's was_token_split: merge response tokens backwards from <paramref name="startIndex"/> until
    /// they are at least as long as the token; they must end with it; true when more than one was needed.
    /// </summary>
    private static bool WasTokenSplit(int position, string current, string[] responseTokens, int startIndex)
    {
        string merged = "";
        int index = startIndex;
        int length = CodePoints(current);
        while (CodePoints(merged) < length)
        {
            if (index < 0) throw new ParseFailure($"token {position}: '{ActivationFormat.DisplayToken(current)}' runs past the start of the echoed prompt");
            var (token, mergedIndex) = HandleByteEncoding(responseTokens, index);
            merged = token + merged;
            index = mergedIndex - 1;
        }
        if (!merged.EndsWith(current, StringComparison.Ordinal))
            throw new ParseFailure($"token {position}: expected '{ActivationFormat.DisplayToken(current)}' before its tab, the echoed prompt has '{ActivationFormat.DisplayToken(merged)}'");
        return startIndex - index > 1;
    }

    /// <summary>OpenAI's handle_byte_encoding: "bytes:\xe2\x80" tokens merged backwards until they decode as UTF-8.</summary>
    private static (string Token, int Index) HandleByteEncoding(string[] responseTokens, int index)
    {
        string token = responseTokens[index];
        if (!token.StartsWith("bytes:", StringComparison.Ordinal)) return (token, index);
        var bytes = new List<byte>();
        while (true)
        {
            bytes.InsertRange(0, ByteArray(token));
            try
            {
                return (StrictUtf8.GetString(bytes.ToArray()), index);
            }
            catch (DecoderFallbackException)
            {
                if (--index < 0) throw new ParseFailure("a \"bytes:\" token does not decode as UTF-8");
                token = responseTokens[index];
            }
        }
    }

    /// <summary>OpenAI's convert_to_byte_array: after "bytes:", "\xNN" is a byte and any other character its ASCII code.</summary>
    private static byte[] ByteArray(string token)
    {
        if (!token.StartsWith("bytes:", StringComparison.Ordinal)) throw new ParseFailure($"'{ActivationFormat.DisplayToken(token)}' is not a \"bytes:\" token");
        var bytes = new List<byte>();
        string s = token["bytes:".Length..];
        for (int i = 0; i < s.Length;)
        {
            if (s[i] == '\\')
            {
                if (i + 4 > s.Length || s[i + 1] != 'x'
                    || !byte.TryParse(s.AsSpan(i + 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
                    throw new ParseFailure($"malformed \"bytes:\" token '{ActivationFormat.DisplayToken(token)}'");
                bytes.Add(b);
                i += 4;
            }
            else bytes.Add((byte)s[i++]);
        }
        return [.. bytes];
    }

    private static int CodePoints(string s)
    {
        int count = 0;
        for (int i = 0; i < s.Length; i++, count++)
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        return count;
    }

    private static string Around(string[] tokens, int i) =>
        string.Join(", ", tokens[Math.Max(0, i - 3)..Math.Min(tokens.Length, i + 3)].Select(t => $"'{ActivationFormat.DisplayToken(t)}'"));

    private sealed class ParseFailure(string message) : Exception(message);
}
