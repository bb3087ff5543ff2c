using System.Text.Json.Nodes;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>How one server writes one logprob entry of a chat reply: its "token", its "bytes" (null: left out) and any extra fields.</summary>
public sealed record ChatLogprobEntry(string Token, int[]? Bytes, double Logprob, IReadOnlyList<ChatLogprobEntry> Top, int? Id = null);

/// <summary>
/// OpenAI's two completion objects, as every server here answers them; each server fills in the fields its own way.
/// <list type="bullet">
/// <item><see cref="Chat"/>: choices[0] {"index", "message": {"role", "content"}, "logprobs": {"content": [{"token",
/// "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]} or null, "finish_reason"}, "usage"
/// (entries: <see cref="ChatLogprobEntry"/>);</item>
/// <item><see cref="Text"/>: the legacy text completion, choices[0] {"index", "text", "logprobs": {"text_offset",
/// "token_logprobs", "tokens", "top_logprobs"}, "finish_reason"}, "usage"; text_offset as vLLM computes it, each
/// offset the previous one plus the length of the previous token string.</item>
/// </list>
/// </summary>
public static class CompletionJson
{
    public static JsonObject Chat(FakeLlmRequest request, string content, IReadOnlyList<ChatLogprobEntry>? logprobs) => new()
    {
        ["id"] = $"chatcmpl-{request.Number}",
        ["object"] = "chat.completion",
        ["created"] = 1700000000,
        ["model"] = request.Model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content },
            ["logprobs"] = logprobs is null ? null : new JsonObject { ["content"] = new JsonArray(logprobs.Select(e => Entry(e, main: true)).ToArray()) },
            ["finish_reason"] = "stop",
        }),
        ["usage"] = Usage(request.Body.ToJsonString().Length / 4, Math.Max(1, content.Length / 4)),
    };

    public static JsonNode Entry(ChatLogprobEntry e, bool main)
    {
        var entry = new JsonObject();
        if (e.Id is int id) entry["id"] = id;
        entry["token"] = e.Token;
        if (e.Bytes is { } bytes) entry["bytes"] = new JsonArray(bytes.Select(b => (JsonNode)b).ToArray());
        entry["logprob"] = e.Logprob;
        if (main) entry["top_logprobs"] = new JsonArray(e.Top.Select(t => Entry(t, main: false)).ToArray());
        return entry;
    }

    /// <summary>A text completion of <paramref name="text"/> whose logprobs are the given tokens (a null logprob and top: the first prompt token).</summary>
    public static JsonObject Text(FakeLlmRequest request, string text, IReadOnlyList<string> tokens, IReadOnlyList<double?> tokenLogprobs,
        IReadOnlyList<JsonObject?> topLogprobs, JsonObject? extraChoiceFields = null)
    {
        var offsets = new JsonArray();
        int offset = 0;
        foreach (string s in tokens) { offsets.Add(offset); offset += s.EnumerateRunes().Count(); } // Python's len(token)
        var choice = new JsonObject
        {
            ["index"] = 0,
            ["text"] = text,
            ["logprobs"] = new JsonObject
            {
                ["text_offset"] = offsets,
                ["token_logprobs"] = new JsonArray(tokenLogprobs.Select(l => l is double v ? (JsonNode)v : null).ToArray()),
                ["tokens"] = new JsonArray(tokens.Select(s => (JsonNode)s).ToArray()),
                ["top_logprobs"] = new JsonArray(topLogprobs.Select(t => (JsonNode?)t).ToArray()),
            },
            ["finish_reason"] = "length",
        };
        foreach (var (key, value) in extraChoiceFields ?? []) choice[key] = value?.DeepClone();
        return new JsonObject
        {
            ["id"] = $"cmpl-{request.Number}",
            ["object"] = "text_completion",
            ["created"] = 1700000000,
            ["model"] = request.Model,
            ["choices"] = new JsonArray(choice),
            ["usage"] = Usage(tokens.Count, 0),
        };
    }

    public static JsonObject Usage(int prompt, int completion) => new()
    {
        ["prompt_tokens"] = prompt,
        ["completion_tokens"] = completion,
        ["total_tokens"] = prompt + completion,
    };

    /// <summary>A token's "bytes" as Python writes list(token.encode("utf-8", errors="replace")) (vLLM) or Go's []byte(s) (Ollama).</summary>
    public static int[] Utf8(string token) => System.Text.Encoding.UTF8.GetBytes(token).Select(b => (int)b).ToArray();
}
