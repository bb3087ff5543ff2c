using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NeuronEngine.Tests.Explain;

/// <summary>A chat request as the server saw it.</summary>
public sealed record FakeLlmRequest(int Number, JsonObject Body, string? Authorization)
{
    public string Model => (string)Body["model"]!;
    public JsonArray Messages => Body["messages"]!.AsArray();
    public string SystemText => Text(Messages[0]!);
    public string LastUserText => Text(Messages[^1]!);
    public bool WantsLogprobs => Body["logprobs"]?.GetValue<bool>() == true;
    public int TopLogprobs => Body["top_logprobs"]?.GetValue<int>() ?? 0;
    public bool WantsJson => Body["response_format"] is not null;
    public bool IsExplainer => SystemText.Contains("summarize", StringComparison.Ordinal);

    private static string Text(JsonNode message) => message["content"] switch
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
}

/// <summary>
/// An OpenAI-compatible /v1/chat/completions on 127.0.0.1 (Kestrel on a free port), answering through
/// <see cref="Script"/>: by default <see cref="FakeNeuronModel"/>, deterministic in the request's content so
/// that runs in any order, interrupted or not, produce the same results. Counts every request it gets.
/// </summary>
public sealed class FakeLlmServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    public string BaseUrl { get; }
    public int RequestCount => Volatile.Read(ref _requests);
    public ConcurrentQueue<FakeLlmRequest> Requests { get; } = new();

    /// <summary>Decides each reply; replace to script failures (fall back to <see cref="FakeNeuronModel.Reply"/>).</summary>
    public Func<FakeLlmRequest, FakeLlmReply> Script { get; set; } = FakeNeuronModel.Reply;

    private FakeLlmServer(WebApplication app, string baseUrl) { _app = app; BaseUrl = baseUrl; }

    public static async Task<FakeLlmServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        FakeLlmServer? server = null;
        app.MapPost("/v1/chat/completions", async (HttpContext context) => await server!.HandleAsync(context));
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FakeLlmServer(app, address.TrimEnd('/') + "/v1");
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var body = (JsonObject)(await JsonNode.ParseAsync(context.Request.Body))!;
        var request = new FakeLlmRequest(Interlocked.Increment(ref _requests), body, context.Request.Headers.Authorization.ToString());
        Requests.Enqueue(request);
        var reply = Script(request);
        if (reply.Delay > TimeSpan.Zero)
        {
            try { await Task.Delay(reply.Delay, context.RequestAborted); }
            catch (OperationCanceledException) { return; }
        }
        switch (reply)
        {
            case FakeLlmReply.Error error:
                context.Response.StatusCode = error.Status;
                foreach (var (k, v) in error.Headers ?? new Dictionary<string, string>()) context.Response.Headers[k] = v;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(error.Body);
                break;
            case FakeLlmReply.Completion completion:
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(CompletionJson(request, completion).ToJsonString());
                break;
        }
    }

    private static JsonObject CompletionJson(FakeLlmRequest request, FakeLlmReply.Completion c)
    {
        JsonNode? logprobs = null;
        if (c.Logprobs is { } lp)
            logprobs = new JsonObject
            {
                ["content"] = new JsonArray(lp.Select(t => (JsonNode)new JsonObject
                {
                    ["token"] = t.Token,
                    ["logprob"] = t.Logprob,
                    ["bytes"] = null,
                    ["top_logprobs"] = new JsonArray(t.Top.Select(a => (JsonNode)new JsonObject { ["token"] = a.Token, ["logprob"] = a.Logprob, ["bytes"] = null }).ToArray()),
                }).ToArray()),
            };
        int promptTokens = request.Messages.Sum(m => m!.ToJsonString().Length) / 4;
        int completionTokens = Math.Max(1, c.Content.Length / 4);
        return new JsonObject
        {
            ["id"] = $"chatcmpl-{request.Number}",
            ["object"] = "chat.completion",
            ["created"] = 1700000000,
            ["model"] = request.Model,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = c.Content },
                ["logprobs"] = logprobs,
                ["finish_reason"] = "stop",
            }),
            ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens },
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
