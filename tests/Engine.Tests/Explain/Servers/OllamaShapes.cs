using System.Text.Json.Nodes;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>
/// What Ollama sends through its OpenAI layer (ollama/ollama openai/openai.go, server/logprob.go,
/// llm/llama_server.go, at fb30760):
/// <list type="bullet">
/// <item>/v1/completions: CompletionRequest has no "echo" field, so echo is ignored; "logprobs": N asks the model
/// for logprobs, but ToCompletion writes only "text" (the generated text, not the prompt), "index" and
/// "finish_reason": no logprobs come back;</item>
/// <item>chat logprobs: the token strings of the llama-server underneath (cut like llama.cpp's) with "bytes" made
/// again from the string (stringToByteInts: left out for "", the UTF-8 of "�" otherwise): a piece's real
/// bytes are lost; "top_logprobs" must be 0–20 (server/routes.go answers 400 otherwise);</item>
/// <item>response_format json_schema becomes the request's format (works).</item>
/// </list>
/// </summary>
public static class OllamaShapes
{
    public static JsonObject Chat(FakeLlmRequest request, string content, IReadOnlyList<ServerToken> tokens)
    {
        ChatLogprobEntry Entry(byte[] bytes, double logprob, IReadOnlyList<ChatLogprobEntry> top) =>
            ServerTokenizer.LlamaCppToken(bytes) is var s ? new(s, s.Length == 0 ? null : CompletionJson.Utf8(s), logprob, top) : null!;
        var entries = tokens.Select(t => Entry(t.Bytes, t.Logprob,
            [Entry(t.Bytes, t.Logprob, []), .. t.Others.Take(request.TopLogprobs - 1).Select(a => Entry(a.Bytes, a.Logprob, []))])).ToArray();
        var reply = CompletionJson.Chat(request, content, entries);
        reply["system_fingerprint"] = "fp_ollama";
        return reply;
    }

    /// <summary>/v1/completions with echo (ToCompletion): the echo ignored, the generated text alone, no logprobs.</summary>
    public static JsonObject CompletionIgnoringEcho(FakeLlmRequest request) => new()
    {
        ["id"] = $"cmpl-{request.Number}",
        ["object"] = "text_completion",
        ["created"] = 1700000000,
        ["model"] = request.Model,
        ["system_fingerprint"] = "fp_ollama",
        ["choices"] = new JsonArray(new JsonObject { ["text"] = " The", ["index"] = 0, ["finish_reason"] = "length" }),
        ["usage"] = CompletionJson.Usage(request.Prompt.Length / 4, 1),
    };
}
