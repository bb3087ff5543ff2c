using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Net;
using System.Net.Sockets;
using System.Text;

using NeuronEngine.Tests.Explain.Servers;

namespace NeuronEngine.Tests.Explain;

/// <summary>A chat request (/v1/chat/completions) or a text completion request (/v1/completions) as the server saw it.</summary>
public sealed record FakeLlmRequest(int Number, JsonObject Body, string? Authorization)
{
    public string Model => (string)Body["model"]!;

    /// <summary>A /v1/completions request (echo mode): a prompt instead of messages.</summary>
    public bool IsCompletion => Body["prompt"] is not null;
    public string Prompt => (string)Body["prompt"]!;
    public JsonArray Messages => Body["messages"]!.AsArray();
    public string SystemText => IsCompletion ? "" : Text(Messages[0]!);
    public string LastUserText => IsCompletion ? Prompt : Text(Messages[^1]!);
    public bool WantsLogprobs => Body["logprobs"] is JsonValue v && (v.TryGetValue(out bool b) ? b : v.GetValue<int>() > 0);
    public int TopLogprobs => IsCompletion ? Body["logprobs"]?.GetValue<int>() ?? 0 : Body["top_logprobs"]?.GetValue<int>() ?? 0;
    public bool WantsJson => Body["response_format"] is not null;
    public bool IsExplainer => SystemText.Contains("summarize", StringComparison.Ordinal);

    /// <summary>A message's text, whether its content is a string or a list of text parts.</summary>
    public static string Text(JsonNode message) => message["content"] switch
    {
        JsonValue v => v.GetValue<string>(),
        JsonArray parts => string.Concat(parts.Select(p => (string?)p!["text"])),
        _ => "",
    };
}

/// <summary>What the server answers: a completion, an HTTP error, or either after a delay.</summary>
public abstract record FakeLlmReply
{
    public TimeSpan Delay { get; init; }

    public sealed record Completion(string Content, IReadOnlyList<(string Token, double Logprob, (string Token, double Logprob)[] Top)>? Logprobs = null) : FakeLlmReply;
    public sealed record Error(int Status, string Body = "{\"error\":{\"message\":\"scripted failure\"}}", IReadOnlyDictionary<string, string>? Headers = null) : FakeLlmReply;

    /// <summary>A whole 200 response body, written the way one particular server writes it (tests/Explain/Servers).</summary>
    public sealed record Raw(JsonNode Json) : FakeLlmReply;

    /// <summary>A /v1/completions reply with echo: the prompt's tokens, each with its top logprobs (the first has none).</summary>
    public sealed record Echo(IReadOnlyList<(string Token, (string Token, double Logprob)[] Top)> Tokens) : FakeLlmReply;
}

/// <summary>
/// An OpenAI-compatible /v1/chat/completions on 127.0.0.1 (HttpListener on a free port), answering through
/// <see cref="Script"/>: by default <see cref="FakeNeuronModel"/>, deterministic in the request's content so
/// that runs in any order, interrupted or not, produce the same results. Counts every request it gets.
/// (HttpListener rather than Kestrel: the ASP.NET shared framework in the test output would keep the
/// engine run out of process from finding the logging assemblies it ships with.)
/// </summary>
public sealed class FakeLlmServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Task _loop;
    private int _requests;

    public string BaseUrl { get; }
    public int RequestCount => Volatile.Read(ref _requests);
    public ConcurrentQueue<FakeLlmRequest> Requests { get; } = new();

    /// <summary>Decides each reply; replace to script failures (fall back to <see cref="FakeNeuronModel.Reply"/>).</summary>
    public Func<FakeLlmRequest, FakeLlmReply> Script { get; set; } = FakeNeuronModel.Reply;

    private FakeLlmServer(HttpListener listener, string baseUrl)
    {
        _listener = listener;
        BaseUrl = baseUrl;
        _loop = Task.Run(AcceptLoopAsync);
    }

    public static Task<FakeLlmServer> StartAsync()
    {
        for (int attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0); // HttpListener cannot pick a free port itself
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return Task.FromResult(new FakeLlmServer(listener, $"http://127.0.0.1:{port}/v1"));
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close(); // another process took the port in between: try another
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            var response = context.Response;
            if (context.Request.HttpMethod != "POST" || context.Request.Url?.AbsolutePath is not ("/v1/chat/completions" or "/v1/completions"))
            {
                response.StatusCode = 404;
                response.Close();
                return;
            }
            var body = (JsonObject)(await JsonNode.ParseAsync(context.Request.InputStream))!;
            var request = new FakeLlmRequest(Interlocked.Increment(ref _requests), body, context.Request.Headers["Authorization"]);
            Requests.Enqueue(request);
            var reply = Script(request);
            if (reply.Delay > TimeSpan.Zero) await Task.Delay(reply.Delay);
            string json;
            switch (reply)
            {
                case FakeLlmReply.Error error:
                    response.StatusCode = error.Status;
                    foreach (var (k, v) in error.Headers ?? new Dictionary<string, string>()) response.Headers[k] = v;
                    json = error.Body;
                    break;
                case FakeLlmReply.Completion completion:
                    json = CompletionJson(request, completion).ToJsonString();
                    break;
                case FakeLlmReply.Raw raw:
                    json = raw.Json.ToJsonString();
                    break;
                case FakeLlmReply.Echo echo:
                    json = EchoJson(request, echo).ToJsonString();
                    break;
                default:
                    throw new InvalidOperationException($"unknown reply {reply}");
            }
            var bytes = Encoding.UTF8.GetBytes(json);
            response.ContentType = "application/json";
            response.ContentLength64 = bytes.Length;
            await response.OutputStream.WriteAsync(bytes);
            response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // the client gave up (a timed-out attempt) or the server is stopping
        }
        catch (Exception e)
        {
            // A bug in a script or the fake model: answer 400 with it (not retried) instead of leaving the client to time out.
            try
            {
                context.Response.StatusCode = 400;
                var bytes = Encoding.UTF8.GetBytes($"{{\"error\":{{\"message\":{System.Text.Json.JsonSerializer.Serialize(e.ToString())}}}}}");
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
            catch (Exception) { // the client is gone
            }
        }
    }

    private static JsonObject CompletionJson(FakeLlmRequest request, FakeLlmReply.Completion c) =>
        Servers.CompletionJson.Chat(request, c.Content, c.Logprobs?.Select(t => new ChatLogprobEntry(t.Token, null, t.Logprob,
            t.Top.Select(a => new ChatLogprobEntry(a.Token, null, a.Logprob, [])).ToArray())).ToArray());

    /// <summary>An OpenAI text completion with echo and max_tokens 0: choices[0].text is the prompt, logprobs describe its tokens.</summary>
    private static JsonObject EchoJson(FakeLlmRequest request, FakeLlmReply.Echo echo) =>
        Servers.CompletionJson.Text(request, string.Concat(echo.Tokens.Select(t => t.Token)), echo.Tokens.Select(t => t.Token).ToArray(),
            echo.Tokens.Select((t, i) => i == 0 ? null : (double?)t.Top.FirstOrDefault(a => a.Token == t.Token).Logprob).ToArray(),
            echo.Tokens.Select((t, i) => i == 0 ? null : new JsonObject(t.Top.Select(a => KeyValuePair.Create(a.Token, (JsonNode?)JsonValue.Create(a.Logprob))))).ToArray());

    public async ValueTask DisposeAsync()
    {
        if (!_listener.IsListening) return; // disposed already
        // Close alone: .NET's managed HttpListener re-binds the port while removing prefixes a Stop already removed,
        // which fails ("Address already in use") when a parallel test has taken the port since.
        _listener.Close();
        await _loop;
    }
}
