using System.Text;
using System.Text.Json.Nodes;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>How a vLLM version writes token strings in logprobs.</summary>
public enum VllmStrings
{
    /// <summary>convert_ids_list_to_tokens: tokenizer.decode([id]) per token — a byte piece reads "�".</summary>
    Decoded,
    /// <summary>
    /// Newer V1 (_verify_tokens / _correct_decoded_token, vllm-project/vllm#34875): a token whose lone decoding ends in
    /// "�" is decoded again after up to 4 preceding tokens; an incomplete piece becomes "", the completing one the whole character.
    /// </summary>
    Corrected,
    /// <summary>Decoded, but a SentencePiece token's "▁" space lost (decode strips it; restored by vLLM in 2026).</summary>
    SpaceDropped,
    /// <summary>vLLM 0.8.0–0.9.0's V1 engine: convert_ids_to_tokens of a byte-level BPE ("Ġthe", "ĉ", "Ċ"; #16838, #19177).</summary>
    RawByteLevel,
    /// <summary>The same versions with a SentencePiece model: "▁the", "&lt;0xE6&gt;".</summary>
    RawSentencePiece,
}

/// <summary>
/// vLLM's OpenAI server as its source writes it (vllm/entrypoints/openai/completion/serving.py,
/// request_output_to_completion_response and _create_completion_logprobs; chat_completion/serving.py
/// _create_chat_logprobs / _get_top_logprobs):
/// <list type="bullet">
/// <item>/v1/completions with echo and max_tokens 0: "text" is the prompt; logprobs {"text_offset", "token_logprobs",
/// "tokens", "top_logprobs"} cover the prompt's tokens, the BOS first where the tokenizer adds one; the first
/// position has no logprobs (token_logprobs[0] and top_logprobs[0] null); each other position's top_logprobs is a
/// dict of the prompt token and the top N (up to N + 1 entries; a repeated string keeps one key); text_offset[i+1] =
/// text_offset[i] + len(tokens[i]) — the length of the token *string*, so it is not an offset into the text once
/// strings are "�" fragments or a BOS;</item>
/// <item>chat logprobs: content[] {"token", "logprob", "bytes": list(token.encode("utf-8", errors="replace")),
/// "top_logprobs"} — the bytes of the string, not of the token.</item>
/// </list>
/// </summary>
public static class VllmShapes
{
    public static string[] Strings(IReadOnlyList<byte[]> tokens, VllmStrings how) => how switch
    {
        VllmStrings.Decoded => tokens.Select(ServerTokenizer.DecodeAlone).ToArray(),
        VllmStrings.SpaceDropped => tokens.Select(t => ServerTokenizer.DecodeAlone(t) is [' ', .. var rest] ? rest : ServerTokenizer.DecodeAlone(t)).ToArray(),
        VllmStrings.RawByteLevel => tokens.Select(ServerTokenizer.RawByteLevel).ToArray(),
        VllmStrings.RawSentencePiece => tokens.Select(ServerTokenizer.RawSentencePiece).ToArray(),
        _ => tokens.Select((t, i) => Corrected(tokens, i)).ToArray(),
    };

    /// <summary>An alternative's string: a token decoded on its own (alternatives here are whole tokens: digits, "unknown").</summary>
    public static string Alternative(byte[] token, VllmStrings how) => Strings([token], how)[0];

    private static string Corrected(IReadOnlyList<byte[]> tokens, int i)
    {
        string alone = ServerTokenizer.DecodeAlone(tokens[i]);
        if (!alone.EndsWith('\uFFFD')) return alone;
        for (int context = 1; context <= Math.Min(4, i); context++)
        {
            var window = tokens.Skip(i - context).Take(context).ToArray();
            string full = Decode([.. window, tokens[i]]);
            if (full.EndsWith('\uFFFD')) continue;
            int cleanEnd = context;
            for (int j = context - 1; j >= 0 && ServerTokenizer.DecodeAlone(window[j]).EndsWith('\uFFFD'); j--) cleanEnd = j;
            string cleanPrefix = Decode(window[..cleanEnd]);
            if (full.StartsWith(cleanPrefix, StringComparison.Ordinal)) return full[cleanPrefix.Length..];
        }
        return "";
    }

    private static string Decode(IEnumerable<byte[]> tokens) => Encoding.UTF8.GetString(tokens.SelectMany(t => t).ToArray());

    /// <summary>The echo reply to a /v1/completions request: the prompt, its tokens (after <paramref name="bos"/>) and their logprobs.</summary>
    public static JsonObject Echo(FakeLlmRequest request, IReadOnlyList<ServerToken> prompt, VllmStrings how, string? bos)
    {
        int n = request.TopLogprobs;
        var strings = new List<string>();
        var tokenLogprobs = new List<double?>();
        var topLogprobs = new List<JsonObject?>();
        if (bos is not null) strings.Add(bos);
        strings.AddRange(Strings(prompt.Select(t => t.Bytes).ToArray(), how));
        for (int i = 0; i < strings.Count; i++)
        {
            if (i == 0) { tokenLogprobs.Add(null); topLogprobs.Add(null); continue; }
            var token = prompt[bos is null ? i : i - 1];
            tokenLogprobs.Add(Math.Max(token.Logprob, -9999.0));
            // A dict: the prompt token, then the top N; a string seen twice keeps one key (and the later value).
            var top = new JsonObject { [strings[i]] = Math.Max(token.Logprob, -9999.0) };
            foreach (var (bytes, logprob) in token.Others.Take(n)) top[Alternative(bytes, how)] = Math.Max(logprob, -9999.0);
            topLogprobs.Add(top);
        }
        return CompletionJson.Text(request, request.Prompt, strings, tokenLogprobs, topLogprobs,
            new JsonObject { ["stop_reason"] = null, ["prompt_logprobs"] = null });
    }

    /// <summary>A chat reply with logprobs: each entry's "bytes" are its string's UTF-8, as vLLM writes them.</summary>
    public static JsonObject Chat(FakeLlmRequest request, string content, IReadOnlyList<ServerToken> tokens, VllmStrings how)
    {
        var strings = Strings(tokens.Select(t => t.Bytes).ToArray(), how);
        ChatLogprobEntry Entry(string s, double logprob, IReadOnlyList<ChatLogprobEntry> top) => new(s, CompletionJson.Utf8(s), logprob, top);
        // _get_top_logprobs: the first top_logprobs entries of the position's dict, the sampled token first.
        var entries = tokens.Select((t, i) => Entry(strings[i], t.Logprob,
            [Entry(strings[i], t.Logprob, []), .. t.Others.Take(request.TopLogprobs - 1).Select(a => Entry(Alternative(a.Bytes, how), a.Logprob, []))])).ToArray();
        return CompletionJson.Chat(request, content, entries);
    }
}
