using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace NeuronEngine.Explain;

/// <summary>
/// How a server wrote its token strings. What they spell is found by bytes (<see cref="TokenAlignment"/>), never by
/// string equality, because servers differ:
/// <list type="bullet">
/// <item><see cref="Text"/>: each token decoded alone (vLLM's convert_ids_list_to_tokens calls tokenizer.decode([id]);
/// llama.cpp, Ollama). A piece of a multi-byte character then reads as U+FFFD, or "" (llama.cpp cuts the incomplete
/// tail: validate_utf8; newer vLLM's _correct_decoded_token gives "" and the completing token the whole
/// character); SentencePiece's leading space may be dropped (decode strips "▁"); a special token such as
/// "&lt;s&gt;" is not in the echoed text; OpenAI writes a byte token as "bytes:\xNN".</item>
/// <item><see cref="ByteLevel"/>: raw GPT-2/RoBERTa byte-level pieces (tokenizer.convert_ids_to_tokens): "Ġthe" for
/// " the", "ĉ" for a tab, "Ċ" for a newline — vLLM 0.8.0–0.9.0's V1 engine returned these in completions and chat
/// logprobs alike (vllm-project/vllm#16838, #19177), its chat "bytes" then being the UTF-8 of the raw string.</item>
/// <item><see cref="SentencePiece"/>: raw SentencePiece pieces: "▁the", byte-fallback pieces "&lt;0xE2&gt;".</item>
/// </list>
/// A token's own <c>bytes</c> (chat logprobs; llama.cpp's are exact) win where they say more than its string.
/// </summary>
internal enum TokenSpelling { Text, ByteLevel, SentencePiece }

/// <summary>One token's bytes as its spelling gives them: literal runs and the pieces whose bytes are unknown.</summary>
internal readonly record struct TokenPattern(TokenPiece[] Pieces, bool MayBeSpecial)
{
    /// <summary>"": nothing known; it covers 0–3 bytes of a character split with the next token (or nothing).</summary>
    public bool IsEmpty => Pieces.Length == 0;
}

/// <summary>Literal bytes, or (<see cref="Literal"/> null) one U+FFFD of a lone-decoded fragment: 1–3 bytes ≥ 0x80.</summary>
internal readonly record struct TokenPiece(byte[]? Literal);

internal static partial class TokenSpellings
{
    /// <summary>
    /// GPT-2's byte-to-character table (bytes_to_unicode): the printable bytes 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF
    /// stand for themselves; the other 68 (0x00–0x20, 0x7F–0xA0, 0xAD) take U+0100, U+0101, … in byte order, so
    /// 0x09 is "ĉ", 0x0A "Ċ" and 0x20 "Ġ".
    /// </summary>
    private static readonly Dictionary<char, byte> ByteLevelBytes = BuildByteLevelTable();

    private static Dictionary<char, byte> BuildByteLevelTable()
    {
        var table = new Dictionary<char, byte>(256);
        int next = 0x100;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[printable ? (char)b : (char)next++] = (byte)b;
        }
        return table;
    }

    /// <summary>Worth trying: every character is in the byte-level alphabet and one stands for a remapped byte (Ġ, Ċ, ĉ …).</summary>
    public static bool LooksByteLevel(IEnumerable<string> tokens)
    {
        bool remapped = false;
        foreach (string token in tokens)
            foreach (char c in token)
            {
                if (!ByteLevelBytes.ContainsKey(c)) return false;
                remapped |= c >= 0x100;
            }
        return remapped;
    }

    /// <summary>Worth trying: a "▁" or a "&lt;0xNN&gt;" byte piece.</summary>
    public static bool LooksSentencePiece(IEnumerable<string> tokens) =>
        tokens.Any(t => t.Contains('▁') || BytePiece().IsMatch(t));

    /// <summary>What one token covers in <paramref name="spelling"/>, or null when the string cannot be read that way.</summary>
    public static TokenPattern? Pattern(LlmTokenLogprob token, TokenSpelling spelling)
    {
        bool special = SpecialToken().IsMatch(token.Token);
        if (ExactBytes(token.Token, token.Bytes) is { } exact) return new TokenPattern([new TokenPiece(exact)], special);
        switch (spelling)
        {
            case TokenSpelling.ByteLevel:
                return ByteLevel(token.Token) is { } bytes ? new TokenPattern(bytes.Length == 0 ? [] : [new TokenPiece(bytes)], special) : null;
            case TokenSpelling.SentencePiece:
                return new TokenPattern(token.Token.Length == 0 ? [] : [new TokenPiece(SentencePiece(token.Token))], special);
            default:
                if (OpenAiBytes(token.Token) is { } openAi) return new TokenPattern([new TokenPiece(openAi)], false);
                var pieces = new List<TokenPiece>();
                var run = new StringBuilder();
                foreach (char c in token.Token)
                {
                    if (c != '\uFFFD') { run.Append(c); continue; }
                    if (run.Length > 0) pieces.Add(new TokenPiece(Encoding.UTF8.GetBytes(run.ToString())));
                    run.Clear();
                    pieces.Add(new TokenPiece(null));
                }
                if (run.Length > 0) pieces.Add(new TokenPiece(Encoding.UTF8.GetBytes(run.ToString())));
                return new TokenPattern([.. pieces], special);
        }
    }

    /// <summary>
    /// An alternative's bytes: its own where they say more than its string, else its string read in
    /// <paramref name="spelling"/> (a U+FFFD stays U+FFFD: no alternative that matters is a fragment).
    /// </summary>
    public static byte[] AlternativeBytes(string token, byte[]? bytes, TokenSpelling spelling) =>
        ExactBytes(token, bytes) ?? spelling switch
        {
            TokenSpelling.ByteLevel => ByteLevel(token) ?? Encoding.UTF8.GetBytes(token),
            TokenSpelling.SentencePiece => SentencePiece(token),
            _ => OpenAiBytes(token) ?? Encoding.UTF8.GetBytes(token),
        };

    /// <summary>
    /// The server's bytes when they differ from its string's UTF-8 (llama.cpp: a fragment's token is cut to "" or
    /// "�" while its bytes are exact); null when they repeat the string (vLLM and Ollama derive them from it) or are absent.
    /// </summary>
    private static byte[]? ExactBytes(string token, byte[]? bytes) =>
        bytes is { Length: > 0 } && !bytes.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(token)) ? bytes : null;

    private static byte[]? ByteLevel(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
            if (!ByteLevelBytes.TryGetValue(token[i], out bytes[i])) return null;
        return bytes;
    }

    private static byte[] SentencePiece(string token)
    {
        var m = BytePiece().Match(token);
        if (m.Success) return [byte.Parse(m.Groups[1].ValueSpan, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)];
        return Encoding.UTF8.GetBytes(token.Replace('▁', ' '));
    }

    /// <summary>OpenAI's byte tokens, "bytes:\xe2\x80": after "bytes:", "\xNN" is a byte and any other character its code (convert_to_byte_array).</summary>
    private static byte[]? OpenAiBytes(string token)
    {
        if (!token.StartsWith("bytes:", StringComparison.Ordinal)) return null;
        var bytes = new List<byte>();
        string s = token["bytes:".Length..];
        for (int i = 0; i < s.Length;)
        {
            if (s[i] == '\\' && i + 4 <= s.Length && s[i + 1] == 'x'
                && byte.TryParse(s.AsSpan(i + 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                bytes.Add(b);
                i += 4;
            }
            else if (s[i] < 0x80) bytes.Add((byte)s[i++]);
            else return null;
        }
        return [.. bytes];
    }

    /// <summary>"&lt;0xE2&gt;": a SentencePiece byte-fallback piece.</summary>
    [GeneratedRegex("^<0x([0-9A-Fa-f]{2})>$")]
    private static partial Regex BytePiece();

    /// <summary>"&lt;s&gt;", "&lt;/s&gt;", "&lt;|begin_of_text|&gt;": a special token, which an echoed text does not hold (vLLM's first prompt token is the BOS).</summary>
    [GeneratedRegex(@"^(<\|[^<>|\s]+\|>|</?[A-Za-z_]{1,16}>|\[[A-Z]{2,8}\])$")]
    private static partial Regex SpecialToken();
}
