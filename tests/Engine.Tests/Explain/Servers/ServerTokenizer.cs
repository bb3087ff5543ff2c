using System.Text;
using System.Text.RegularExpressions;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>How a simulator model's tokenizer cuts text that is not ASCII.</summary>
public enum TokenizerKind
{
    /// <summary>Llama/Mistral SentencePiece with byte fallback: every byte of an accented or CJK character, and every control character, is a token of its own.</summary>
    ByteFallback,
    /// <summary>GPT-2/Qwen/Llama-3 byte-level BPE: a 2-byte character whole, a 3- or 4-byte one cut after its second byte.</summary>
    ByteLevelBpe,
}

/// <summary>
/// A stand-in for a server's tokenizer, written for the fixtures (not taken from the engine): text → tokens as raw
/// bytes, and each token's string the way a server writes it. ASCII is cut like <see cref="FakeNeuronModel.EchoTokens"/>
/// (so "\t" and "unknown" stay tokens, words of 4+ characters split, runs of newlines fold), then non-ASCII characters
/// are cut into byte pieces by <see cref="TokenizerKind"/>.
/// </summary>
public static partial class ServerTokenizer
{
    public static List<byte[]> Tokenize(string text, TokenizerKind kind)
    {
        var tokens = new List<byte[]>();
        foreach (string piece in FakeNeuronModel.EchoTokens(text))
        {
            // Within a piece: ASCII runs stay together, each non-ASCII character is cut by the tokenizer's rule.
            foreach (Match m in AsciiOrNot().Matches(piece))
            {
                // SentencePiece writes a control character as its byte piece ("<0x0A>"): one token each.
                if (m.Value[0] < 0x20 && kind == TokenizerKind.ByteFallback) { tokens.AddRange(m.Value.Select(c => new[] { (byte)c })); continue; }
                if (m.Value[0] < 0x80) { tokens.Add(Encoding.UTF8.GetBytes(m.Value)); continue; }
                foreach (var rune in m.Value.EnumerateRunes())
                {
                    byte[] b = Encoding.UTF8.GetBytes(rune.ToString());
                    if (kind == TokenizerKind.ByteFallback) tokens.AddRange(b.Select(x => new[] { x }));
                    else if (b.Length == 2) tokens.Add(b);
                    else { tokens.Add(b[..2]); tokens.Add(b[2..]); }
                }
            }
        }
        return tokens;
    }

    /// <summary>Python's bytes.decode("utf-8", errors="replace") (tokenizer.decode([id]) of a byte token): one U+FFFD per bad sequence.</summary>
    public static string DecodeAlone(byte[] token) => Encoding.UTF8.GetString(token);

    /// <summary>
    /// llama.cpp's token field: the piece cut at an incomplete trailing UTF-8 sequence (validate_utf8), the rest
    /// written with invalid bytes replaced (safe_json_to_str, nlohmann's error_handler_t::replace).
    /// </summary>
    public static string LlamaCppToken(byte[] token)
    {
        int keep = token.Length;
        for (int i = 1; i <= 4 && i <= token.Length; i++)
        {
            byte c = token[^i];
            if ((c & 0xE0) == 0xC0 && i < 2 || (c & 0xF0) == 0xE0 && i < 3 || (c & 0xF8) == 0xF0 && i < 4) { keep = token.Length - i; break; }
        }
        return Encoding.UTF8.GetString(token, 0, keep);
    }

    /// <summary>
    /// GPT-2's bytes_to_unicode, written out as its definition reads: the printable ranges "!".."~", "¡".."¬",
    /// "®".."ÿ" map to themselves, every other byte to 256 + n in byte order.
    /// </summary>
    public static readonly IReadOnlyDictionary<byte, char> ByteToUnicode = BuildByteToUnicode();

    private static Dictionary<byte, char> BuildByteToUnicode()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var map = new Dictionary<byte, char>();
        int n = 0;
        for (int b = 0; b < 256; b++) map[(byte)b] = printable.Contains(b) ? (char)b : (char)(256 + n++);
        return map;
    }

    /// <summary>convert_ids_to_tokens of a byte-level BPE: the token's bytes through <see cref="ByteToUnicode"/> ("Ġthe").</summary>
    public static string RawByteLevel(byte[] token) => string.Concat(token.Select(b => ByteToUnicode[b]));

    /// <summary>convert_ids_to_tokens of a SentencePiece model: "▁" for a space, a lone non-printable or non-ASCII byte as "&lt;0xNN&gt;".</summary>
    public static string RawSentencePiece(byte[] token) =>
        token.Length == 1 && (token[0] >= 0x80 || token[0] < 0x20) ? $"<0x{token[0]:X2}>" : Encoding.UTF8.GetString(token).Replace(' ', '▁');

    [GeneratedRegex("[\\x00-\\x1F]+|[\\x20-\\x7F]+|[^\\x00-\\x7F]+")]
    private static partial Regex AsciiOrNot();
}
