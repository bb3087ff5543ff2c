using System.Diagnostics;
using NeuronEngine.Explain;
using NeuronEngine.Tests.Explain.Servers;
using static NeuronEngine.Tests.Explain.ExplainTestKit;

namespace NeuronEngine.Tests.Explain;

/// <summary>A refusal of the request itself is answered once, with the server's words; only transient failures are retried.</summary>
public class LlmRefusalTests
{
    private static LlmCompletionRequest EchoRequest => new() { Model = "simulator-model", Prompt = "a\tunknown\n", MaxTokens = 0, Echo = true, Logprobs = 15 };

    [Fact]
    public async Task LlamaCppsEchoRefusalEndsAtOnceWithItsMessageAndTheModeThatWorks()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = _ => LlamaCppShapes.EchoRefusal;
        // Retries and backoff as a user gets them by default: a retried refusal would take ~67 s here.
        using var gateway = Gateway(server, null, LlmResilienceOptions.Defaults);
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<LlmEndpointException>(() => gateway.CompleteTextAsync(EchoRequest));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal(1, server.RequestCount);
        Assert.Equal(0, gateway.Usage.Report().Retries);
        Assert.Contains("HTTP 500: Only no echo is supported", e.Message);
        Assert.Contains("--simulator-mode logprobs", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData(501, """{"error":{"code":501,"message":"This server does not support embeddings.","type":"not_supported_error"}}""", "This server does not support embeddings.")]
    [InlineData(500, """{"error":{"code":500,"message":"Unsupported param: suffix","type":"server_error"}}""", "Unsupported param: suffix")]
    [InlineData(400, """{"object":"error","message":"logprobs must be at most 5","type":"BadRequestError","param":null,"code":400}""", "logprobs must be at most 5")]
    [InlineData(400, """{"error":"top_logprobs must be between 0 and 20"}""", "top_logprobs must be between 0 and 20")]
    [InlineData(422, """{"detail":"Field required: prompt"}""", "Field required: prompt")]
    public async Task RefusalsAreNotRetriedAndCarryTheServersMessage(int status, string body, string message)
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = _ => new FakeLlmReply.Error(status, body);
        using var gateway = Gateway(server, null, Fast(retries: 3));
        var e = await Assert.ThrowsAsync<LlmEndpointException>(() => gateway.CompleteAsync(ExplainRequest().ToRequest()));
        Assert.Equal(1, server.RequestCount);
        Assert.Contains($"HTTP {status}: {message}", e.Message);
        Assert.DoesNotContain("--simulator-mode", e.Message); // a chat call: the echo hint is for /completions only
    }

    [Fact]
    public async Task AFiveHundredThatIsAFaultIsRetriedAndItsMessageShownWhenItGivesUp()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = _ => new FakeLlmReply.Error(500, """{"error":{"code":500,"message":"CUDA error: out of memory","type":"server_error"}}""");
        var log = new List<string>();
        using var gateway = Gateway(server, null, Fast(retries: 2), log: log);
        var e = await Assert.ThrowsAsync<LlmCallFailedException>(() => gateway.CompleteTextAsync(EchoRequest));
        Assert.Equal(3, server.RequestCount);
        Assert.Contains("HTTP 500 (CUDA error: out of memory) after 2 retries", e.Message);
        Assert.All(log, line => Assert.Contains("CUDA error: out of memory", line));
    }
}
