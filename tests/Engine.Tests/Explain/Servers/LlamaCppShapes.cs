using System.Text.Json.Nodes;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>
/// What llama.cpp's llama-server sends, as its source writes it (ggml-org/llama.cpp, tools/server/):
/// <list type="bullet">
/// <item>server-common.cpp oaicompat_completion_params_parse refuses <c>echo: true</c> with
/// std::runtime_error("Only no echo is supported"), which the HTTP layer answers as format_error_response(…,
/// ERROR_TYPE_SERVER): status 500, {"error": {"code": 500, "message": …, "type": "server_error"}};</item>
/// <item>chat logprobs (server-task.cpp completion_token_output::probs_vector_to_json and to_json):
/// content[] {"id", "token", "bytes", "logprob", "top_logprobs": [{"id", "token", "bytes", "logprob"}]}, where
/// "token" is the piece cut at an incomplete trailing UTF-8 sequence (validate_utf8) — "" or "�" for a piece of
/// a character — and "bytes" (str_to_bytes) are the piece's exact bytes.</item>
/// </list>
/// </summary>
public static class LlamaCppShapes
{
    public static FakeLlmReply.Error EchoRefusal => new(500, """{"error":{"code":500,"message":"Only no echo is supported","type":"server_error"}}""");

    public static JsonObject Chat(FakeLlmRequest request, string content, IReadOnlyList<ServerToken> tokens)
    {
        ChatLogprobEntry Entry(byte[] bytes, double logprob, IReadOnlyList<ChatLogprobEntry> top) =>
            new(ServerTokenizer.LlamaCppToken(bytes), bytes.Select(b => (int)b).ToArray(), logprob, top, Id: IdOf(bytes));
        var entries = tokens.Select(t => Entry(t.Bytes, t.Logprob,
            [Entry(t.Bytes, t.Logprob, []), .. t.Others.Take(request.TopLogprobs - 1).Select(a => Entry(a.Bytes, a.Logprob, []))])).ToArray();
        return CompletionJson.Chat(request, content, entries);
    }

    /// <summary>A stable stand-in for the token id.</summary>
    private static int IdOf(byte[] bytes) => bytes.Aggregate(17, (h, b) => unchecked(h * 31 + b)) & 0x7FFF;
}
