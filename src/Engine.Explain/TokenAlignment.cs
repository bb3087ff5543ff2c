using System.Text;

namespace NeuronEngine.Explain;

/// <summary>
/// A server's tokens laid onto the UTF-8 bytes of the text they describe (an echoed prompt, a chat reply): token
/// i covers <see cref="Bytes"/>[<see cref="Start"/>[i]..<see cref="End"/>[i]]. Zero-width tokens (a special token the
/// text does not hold, a "" fragment) start and end at the same byte.
/// </summary>
internal sealed class AlignedTokens
{
    public required byte[] Bytes { get; init; }
    public required int[] Start { get; init; }
    public required int[] End { get; init; }
    public required TokenSpelling Spelling { get; init; }

    public int Count => Start.Length;

    public ReadOnlySpan<byte> Of(int token) => Bytes.AsSpan(Start[token], End[token] - Start[token]);

    /// <summary>An alternative at some position, as bytes (its own, or its string in the reply's spelling).</summary>
    public byte[] AlternativeBytes(LlmTopLogprob alternative) => TokenSpellings.AlternativeBytes(alternative.Token, alternative.Bytes, Spelling);

    /// <summary>An alternative as text (a fragment reads as U+FFFD).</summary>
    public string AlternativeText(LlmTopLogprob alternative) => Encoding.UTF8.GetString(AlternativeBytes(alternative));
}

/// <summary>
/// Maps a server's tokens onto the text by bytes, so that nothing depends on how the server wrote its token strings
/// (<see cref="TokenSpelling"/>): the reply's <c>text_offset</c> is no help, since vLLM computes it from the lengths of
/// its decoded strings (a split character counts one per U+FFFD, a leading BOS string counts too). Each token
/// must continue the text where the previous one ended; a U+FFFD piece covers 1–3 bytes ≥ 0x80 and a "" token 0–3 of
/// them (a character split between tokens), a token may take back a space its decoding dropped (SentencePiece's
/// "▁"), and a special token may cover nothing. The search backtracks, and is linear when every token is literal.
/// The spellings are tried in turn: decoded text, then raw byte-level, then raw SentencePiece pieces where the
/// strings look like them.
/// </summary>
internal static class TokenAlignment
{
    public static AlignedTokens? Align(string text, IReadOnlyList<LlmTokenLogprob> tokens, out string? failure)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var strings = tokens.Select(t => t.Token).ToArray();
        failure = null;
        string? asText = null, asRaw = null;
        foreach (var spelling in Spellings(strings))
        {
            var patterns = new TokenPattern[tokens.Count];
            int unreadable = -1;
            for (int i = 0; i < tokens.Count && unreadable < 0; i++)
                if (TokenSpellings.Pattern(tokens[i], spelling) is { } pattern) patterns[i] = pattern;
                else unreadable = i;
            if (unreadable >= 0) continue;
            if (Search(bytes, patterns, spelling) is var (start, end, stuck) && start is not null)
                return new AlignedTokens { Bytes = bytes, Start = start, End = end!, Spelling = spelling };
            string why = Describe(bytes, strings, stuck);
            // Strings that look raw say more about the server than their failure as text does.
            if (spelling == TokenSpelling.Text) asText = "the server's tokens " + why;
            else asRaw ??= spelling == TokenSpelling.ByteLevel
                ? "the server's token strings are raw byte-level pieces (\"Ġ\" for a space, \"Ċ\" for a newline), as vLLM 0.8.0-0.9.0's "
                    + "V1 engine returns them (vllm-project/vllm#16838, #19177; later versions decode them), and even decoded they " + why
                : "the server's token strings are raw SentencePiece pieces (\"▁\" for a space, \"<0xNN>\" for a byte) and even decoded they " + why;
        }
        failure = asRaw ?? asText ?? "the server's token strings cannot be read as text, byte-level or SentencePiece pieces";
        return null;
    }

    /// <summary>The text the tokens spell by themselves (for logprobs that describe text the reply does not hold).</summary>
    public static string OwnText(IReadOnlyList<LlmTokenLogprob> tokens)
    {
        var strings = tokens.Select(t => t.Token).ToArray();
        var spelling = TokenSpellings.LooksByteLevel(strings) ? TokenSpelling.ByteLevel
            : TokenSpellings.LooksSentencePiece(strings) ? TokenSpelling.SentencePiece : TokenSpelling.Text;
        var bytes = new List<byte>();
        foreach (var t in tokens) bytes.AddRange(TokenSpellings.AlternativeBytes(t.Token, t.Bytes, spelling));
        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static IEnumerable<TokenSpelling> Spellings(string[] strings)
    {
        yield return TokenSpelling.Text;
        if (TokenSpellings.LooksByteLevel(strings)) yield return TokenSpelling.ByteLevel;
        if (TokenSpellings.LooksSentencePiece(strings)) yield return TokenSpelling.SentencePiece;
    }

    /// <summary>
    /// Depth-first over (token, byte): each token tries its candidate ends in order; a state that failed once is
    /// not tried again. Returns the spans, or null spans and the furthest token reached.
    /// </summary>
    private static (int[]? Start, int[]? End, (int Token, int At) Stuck) Search(byte[] text, TokenPattern[] patterns, TokenSpelling spelling)
    {
        int n = patterns.Length;
        if (n == 0) return text.Length == 0 ? ([], [], (0, 0)) : (null, null, (0, 0));
        var start = new int[n + 1];
        var candidates = new List<int>?[n];
        var next = new int[n];
        var failed = new HashSet<(int, int)>();
        (int Token, int At) stuck = (0, 0);
        int i = 0;
        start[0] = 0;
        while (true)
        {
            if (i == n)
            {
                if (start[n] == text.Length) return (start[..n], start[1..], stuck);
                if (n > stuck.Token || start[n] > stuck.At) stuck = (n, start[n]);
                i--; // the tokens end before the text does: try another way
            }
            else if (candidates[i] is null)
            {
                if (i > stuck.Token || (i == stuck.Token && start[i] > stuck.At)) stuck = (i, start[i]);
                candidates[i] = failed.Contains((i, start[i])) ? [] : Ends(text, start[i], patterns[i], spelling);
                next[i] = 0;
            }
            if (i < n && next[i] < candidates[i]!.Count)
            {
                start[i + 1] = candidates[i]![next[i]++];
                i++;
                continue;
            }
            // Every way on from token i failed.
            if (i < n)
            {
                failed.Add((i, start[i]));
                candidates[i] = null;
            }
            if (i == 0) return (null, null, stuck);
            i--;
        }
    }

    /// <summary>Where token <paramref name="pattern"/> can end if it starts at <paramref name="at"/>, most natural first.</summary>
    private static List<int> Ends(byte[] text, int at, TokenPattern pattern, TokenSpelling spelling)
    {
        var ends = new List<int>();
        if (pattern.IsEmpty)
        {
            ends.Add(at);
            for (int k = 1; k <= 3 && at + k <= text.Length && text[at + k - 1] >= 0x80; k++) ends.Add(at + k);
            return ends;
        }
        Match(text, at, pattern.Pieces, 0, ends);
        // SentencePiece: decode() of one "▁the" gives "the", of "▁▁" one space (vLLM restored the space in 2026).
        if (spelling == TokenSpelling.Text && at < text.Length && text[at] == (byte)' ')
            Match(text, at + 1, pattern.Pieces, 0, ends);
        if (pattern.MayBeSpecial && !ends.Contains(at)) ends.Add(at);
        return ends;
    }

    private static void Match(byte[] text, int at, TokenPiece[] pieces, int piece, List<int> ends)
    {
        if (piece == pieces.Length)
        {
            if (!ends.Contains(at)) ends.Add(at);
            return;
        }
        if (pieces[piece].Literal is { } literal)
        {
            if (at + literal.Length <= text.Length && text.AsSpan(at, literal.Length).SequenceEqual(literal))
                Match(text, at + literal.Length, pieces, piece + 1, ends);
            return;
        }
        // One U+FFFD: the 1–3 bytes of a character's piece (or a real U+FFFD, EF BF BD).
        for (int k = 1; k <= 3 && at + k <= text.Length && text[at + k - 1] >= 0x80; k++)
            Match(text, at + k, pieces, piece + 1, ends);
    }

    private static string Describe(byte[] text, string[] tokens, (int Token, int At) stuck)
    {
        if (stuck.Token >= tokens.Length)
            return $"end at byte {stuck.At} of {text.Length}: the text goes on with '{Around(text, stuck.At)}'";
        return $"do not spell the text they came with: token {stuck.Token} '{ActivationFormat.DisplayToken(tokens[stuck.Token])}' "
            + $"does not continue it at byte {stuck.At} ('{Around(text, stuck.At)}')";
    }

    private static string Around(byte[] text, int at)
    {
        int from = Math.Max(0, at - 12), to = Math.Min(text.Length, at + 12);
        return ActivationFormat.DisplayToken(Encoding.UTF8.GetString(text, from, to - from));
    }
}
