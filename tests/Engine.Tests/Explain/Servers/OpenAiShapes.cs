using System.Text;
using System.Text.Json.Nodes;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>
/// OpenAI's API as its reference documents it: chat logprobs content[] {"token", "logprob", "bytes" (the token's
/// exact UTF-8; a piece of a character has its bytes here), "top_logprobs"}, top_logprobs 0–20; legacy
/// /v1/completions allows logprobs ≤ 5, so OpenAI's 15-alternative echo simulator cannot run there (the engine
/// says so before any call).
/// </summary>
public static class OpenAiShapes
{
    public static JsonObject Chat(FakeLlmRequest request, string content, IReadOnlyList<ServerToken> tokens)
    {
        ChatLogprobEntry Entry(byte[] bytes, double logprob, IReadOnlyList<ChatLogprobEntry> top) =>
            new(Encoding.UTF8.GetString(bytes), bytes.Select(b => (int)b).ToArray(), logprob, top);
        var entries = tokens.Select(t => Entry(t.Bytes, t.Logprob,
            [Entry(t.Bytes, t.Logprob, []), .. t.Others.Take(request.TopLogprobs - 1).Select(a => Entry(a.Bytes, a.Logprob, []))])).ToArray();
        return CompletionJson.Chat(request, content, entries);
    }
}
