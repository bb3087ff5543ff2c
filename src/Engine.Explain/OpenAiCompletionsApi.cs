using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;

namespace NeuronEngine.Explain;

/// <summary>
/// OpenAI's (legacy) text completions endpoint, {base}/completions, as OpenAI's simulator calls it: the
/// request {"model", "prompt", "max_tokens", "echo", "logprobs", "temperature"} and the reply's
/// choices[0] {"text", "logprobs": {"tokens", "token_logprobs", "top_logprobs", "text_offset"}} and
/// "usage" (text_offset is not read: vLLM counts it in token-string lengths, see <see cref="TokenAlignment"/>).
/// Microsoft.Extensions.AI has no completions-with-echo abstraction, so the request goes through
/// the OpenAI SDK's HTTP pipeline directly: the same key handling (the key never leaves the SDK's
/// credential), the SDK's retries switched off, failures as <see cref="ClientResultException"/> for the
/// gateway's one retry layer.
/// </summary>
internal sealed class OpenAiCompletionsApi(ClientPipeline pipeline, string baseUrl)
{
    private static readonly PipelineMessageClassifier Success = PipelineMessageClassifier.Create(stackalloc ushort[] { 200 });

    public async Task<LlmReply> SendAsync(LlmCompletionRequest request, CancellationToken cancellationToken)
    {
        using var message = pipeline.CreateMessage();
        message.ResponseClassifier = Success;
        message.Request.Method = "POST";
        message.Request.Uri = new Uri(baseUrl.TrimEnd('/') + "/completions");
        message.Request.Headers.Set("Content-Type", "application/json");
        message.Request.Headers.Set("Accept", "application/json");
        message.Request.Content = BinaryContent.Create(BinaryData.FromBytes(RequestBody(request)));
        message.Apply(new RequestOptions { CancellationToken = cancellationToken });
        await pipeline.SendAsync(message).ConfigureAwait(false);
        var response = message.Response ?? throw new LlmCallFailedException($"{request.Model}: no response from {baseUrl}/completions");
        if (response.IsError) throw await ClientResultException.CreateAsync(response).ConfigureAwait(false); // the message carries the body
        return ParseReply(response.Content.ToString(), request.Model);
    }

    internal static byte[] RequestBody(LlmCompletionRequest request)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", request.Model);
            json.WriteString("prompt", request.Prompt);
            json.WriteNumber("max_tokens", request.MaxTokens);
            json.WriteBoolean("echo", request.Echo);
            json.WriteNumber("logprobs", request.Logprobs);
            json.WriteNumber("temperature", request.Temperature);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// The first choice's text and its tokens with their top alternatives and text offsets. A reply without
    /// "logprobs" gives a reply without them (the parser says what is missing); one that is not a completion
    /// at all fails the call.
    /// </summary>
    internal static LlmReply ParseReply(string body, string model)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var choice = root.GetProperty("choices")[0];
            string text = choice.GetProperty("text").GetString() ?? "";
            long input = 0, output = 0;
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                if (usage.TryGetProperty("prompt_tokens", out var p) && p.ValueKind == JsonValueKind.Number) input = p.GetInt64();
                if (usage.TryGetProperty("completion_tokens", out var c) && c.ValueKind == JsonValueKind.Number) output = c.GetInt64();
            }
            if (!choice.TryGetProperty("logprobs", out var logprobs) || logprobs.ValueKind != JsonValueKind.Object)
                return new LlmReply(text, null, input, output);
            // llama.cpp's /completions answers in the chat shape ({"content": [{token, logprob, bytes, top_logprobs}]}),
            // for generated tokens only: it does not echo the prompt (the echo parser says so).
            if (logprobs.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
                return new LlmReply(text, content.EnumerateArray().Select(ChatShapeToken).ToArray(), input, output);
            var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString() ?? "").ToArray();
            var tokenLogprobs = Optional(logprobs, "token_logprobs");
            var topLogprobs = Optional(logprobs, "top_logprobs");
            var entries = new LlmTokenLogprob[tokens.Length];
            for (int i = 0; i < tokens.Length; i++)
            {
                double logprob = tokenLogprobs is { } lp && i < lp.Length && lp[i].ValueKind == JsonValueKind.Number ? lp[i].GetDouble() : 0;
                var top = topLogprobs is { } tl && i < tl.Length && tl[i].ValueKind == JsonValueKind.Object
                    ? tl[i].EnumerateObject().Where(a => a.Value.ValueKind == JsonValueKind.Number).Select(a => new LlmTopLogprob(a.Name, a.Value.GetDouble())).ToArray()
                    : [];
                entries[i] = new LlmTokenLogprob(tokens[i], logprob, top);
            }
            return new LlmReply(text, entries, input, output);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            throw new LlmCallFailedException($"{model}: the /completions reply is not an OpenAI text completion ({e.Message})");
        }
    }

    /// <summary>{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}.</summary>
    private static LlmTokenLogprob ChatShapeToken(JsonElement t)
    {
        var top = t.TryGetProperty("top_logprobs", out var alternatives) && alternatives.ValueKind == JsonValueKind.Array
            ? alternatives.EnumerateArray().Select(a => new LlmTopLogprob(a.GetProperty("token").GetString() ?? "", Number(a, "logprob")) { Bytes = Bytes(a) }).ToArray()
            : [];
        return new LlmTokenLogprob(t.GetProperty("token").GetString() ?? "", Number(t, "logprob"), top) { Bytes = Bytes(t) };
    }

    private static double Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;

    private static byte[]? Bytes(JsonElement e) =>
        e.TryGetProperty("bytes", out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(b => (byte)b.GetInt32()).ToArray() : null;

    private static JsonElement[]? Optional(JsonElement logprobs, string name) =>
        logprobs.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToArray() : null;
}
