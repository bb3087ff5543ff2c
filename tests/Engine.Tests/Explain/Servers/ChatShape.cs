using System.Text.Json.Nodes;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>How one server writes one logprob entry of a chat reply: its "token", its "bytes" (null: left out) and any extra fields.</summary>
public sealed record ChatLogprobEntry(string Token, int[]? Bytes, double Logprob, IReadOnlyList<ChatLogprobEntry> Top, int? Id = null);

/// <summary>
/// OpenAI's chat completion object as the servers answer it: choices[0] {"index", "message": {"role", "content"},
/// "logprobs": {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]} or null,
/// "finish_reason"}, "usage". Each server fills the entries its own way (<see cref="ChatLogprobEntry"/>).
/// </summary>
public static class ChatShape
{
    public static JsonObject Completion(FakeLlmRequest request, string content, IReadOnlyList<ChatLogprobEntry>? logprobs, string objectName = "chat.completion") => new()
    {
        ["id"] = $"chatcmpl-{request.Number}",
        ["object"] = objectName,
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

    public static JsonObject Usage(int prompt, int completion) => new()
    {
        ["prompt_tokens"] = prompt,
        ["completion_tokens"] = completion,
        ["total_tokens"] = prompt + completion,
    };

    /// <summary>A token's "bytes" as Python writes list(token.encode("utf-8", errors="replace")) (vLLM) or Go's []byte(s) (Ollama).</summary>
    public static int[] Utf8(string token) => System.Text.Encoding.UTF8.GetBytes(token).Select(b => (int)b).ToArray();
}
