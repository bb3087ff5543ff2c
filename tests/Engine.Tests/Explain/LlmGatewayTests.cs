using System.Diagnostics;
using NeuronEngine.Explain;
using NeuronEngine.Tests.Support;
using static NeuronEngine.Tests.Explain.ExplainTestKit;

namespace NeuronEngine.Tests.Explain;

/// <summary>The gateway's retries, timeouts, cache and key handling against a real HTTP server.</summary>
public class LlmGatewayTests
{
    [Fact]
    public async Task A429IsRetriedAfterTheServersRetryAfter()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => r.Number == 1
            ? new FakeLlmReply.Error(429, Headers: new Dictionary<string, string> { ["Retry-After"] = "1" })
            : FakeNeuronModel.Reply(r);
        var log = new List<string>();
        using var gateway = Gateway(server, null, log: log); // base backoff 10 ms: only Retry-After explains a 1 s wait
        var clock = Stopwatch.StartNew();
        var reply = await gateway.CompleteAsync(ExplainRequest().ToRequest());
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.95), $"waited only {clock.Elapsed}");
        Assert.Equal("the word \"cat\"", ExplainerPrompt.ParseExplanation(reply.Text));
        Assert.Equal(2, server.RequestCount);
        Assert.Equal(1, gateway.Usage.Report().Retries);
        Assert.Contains("HTTP 429", Assert.Single(log));
    }

    [Fact]
    public async Task FiveHundredsAreRetriedByOneLayerOnly()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => r.Number <= 2 ? new FakeLlmReply.Error(500) : FakeNeuronModel.Reply(r);
        using (var gateway = Gateway(server, null, Fast(retries: 2)))
        {
            await gateway.CompleteAsync(ExplainRequest().ToRequest());
            Assert.Equal(3, server.RequestCount);
        }

        server.Script = _ => new FakeLlmReply.Error(503);
        using (var gateway = Gateway(server, null, Fast(retries: 3)))
        {
            var e = await Assert.ThrowsAsync<LlmCallFailedException>(() => gateway.CompleteAsync(ExplainRequest().ToRequest()));
            Assert.Contains("HTTP 503 after 3 retries", e.Message);
        }
        // 1 + 3 attempts: the OpenAI SDK's own retry policy (3 retries by default) would make this 16.
        Assert.Equal(3 + 4, server.RequestCount);
    }

    [Fact]
    public async Task ASlowReplyPastTheTimeoutIsAbandonedAndRetried()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => r.Number == 1
            ? FakeNeuronModel.Reply(r) with { Delay = TimeSpan.FromSeconds(10) }
            : FakeNeuronModel.Reply(r);
        var log = new List<string>();
        using var gateway = Gateway(server, null, Fast(timeoutSeconds: 2), log: log); // generous: CI machines are slow
        var clock = Stopwatch.StartNew();
        await gateway.CompleteAsync(ExplainRequest().ToRequest());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}: the slow attempt was not cut off");
        Assert.Equal(2, server.RequestCount);
        Assert.Contains("no reply within the attempt timeout", Assert.Single(log));
    }

    [Fact]
    public async Task AnEndpointThatDoesNotAnswerFailsTheCallAfterItsRetries()
    {
        await using var server = await FakeLlmServer.StartAsync();
        string deadUrl = server.BaseUrl;
        await server.DisposeAsync(); // nothing listens on that port any more
        using var gateway = LlmGateway.ForOpenAiCompatible(deadUrl, SentinelKey, null, new LlmUsage(new LlmBudget(), new LlmPrices()), Fast(retries: 1));
        var e = await Assert.ThrowsAsync<LlmCallFailedException>(() => gateway.CompleteAsync(ExplainRequest().ToRequest()));
        Assert.Contains("no response", e.Message);
        Assert.Contains("after 1 retries", e.Message);
        Assert.Equal(1, gateway.Usage.Report().Retries);
    }

    [Fact]
    public async Task ARefusedKeyStopsWithTheStatusAndWithoutTheKey()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = _ => new FakeLlmReply.Error(401, $"{{\"error\":{{\"message\":\"Incorrect API key provided: {SentinelKey}\"}}}}");
        using var gateway = Gateway(server, null);
        var e = await Assert.ThrowsAsync<LlmEndpointException>(() => gateway.CompleteAsync(ExplainRequest().ToRequest()));
        Assert.Contains("HTTP 401", e.Message);
        Assert.DoesNotContain(SentinelKey, e.Message);
        Assert.Equal(1, server.RequestCount); // not retried
        Assert.Equal($"Bearer {SentinelKey}", server.Requests.Single().Authorization);
    }

    [Fact]
    public async Task TheCacheAnswersRepeatsAcrossGatewaysAndKeysOnEverythingButTheApiKey()
    {
        using var dir = new TempDir();
        await using var server = await FakeLlmServer.StartAsync();
        var request = ExplainRequest().ToRequest();
        using (var cache = new LlmCallCache(dir["cache.sqlite"]))
        using (var gateway = Gateway(server, cache))
        {
            var first = await gateway.CompleteAsync(request);
            Assert.Equal(first, await gateway.CompleteAsync(request with { }), new ReplyComparer());
            Assert.Equal((1L, 1L), (gateway.Usage.Report().Calls, gateway.Usage.Report().CacheHits));
        }
        using (var cache = new LlmCallCache(dir["cache.sqlite"]))
        using (var gateway = Gateway(server, cache))
        {
            await gateway.CompleteAsync(request);
            Assert.Equal(1, server.RequestCount);
        }
        string key = LlmCallCache.KeyFor(server.BaseUrl, request);
        Assert.Equal(key, LlmCallCache.KeyFor(server.BaseUrl + "/", request));
        Assert.NotEqual(key, LlmCallCache.KeyFor("http://other/v1", request));
        Assert.NotEqual(key, LlmCallCache.KeyFor(server.BaseUrl, request with { Model = "other" }));
        Assert.NotEqual(key, LlmCallCache.KeyFor(server.BaseUrl, request with { Temperature = 0.5 }));
        Assert.NotEqual(key, LlmCallCache.KeyFor(server.BaseUrl, request with { SampleIndex = 1 }));
        Assert.NotEqual(key, LlmCallCache.KeyFor(server.BaseUrl, request with { TopLogprobs = 5 }));
        Assert.NotEqual(key, LlmCallCache.KeyFor(server.BaseUrl, request with { Messages = [.. request.Messages, new LlmMessage(LlmRole.User, "x")] }));
    }

    private sealed class ReplyComparer : IEqualityComparer<LlmReply>
    {
        public bool Equals(LlmReply? x, LlmReply? y) => x!.Text == y!.Text && x.InputTokens == y.InputTokens && x.OutputTokens == y.OutputTokens;
        public int GetHashCode(LlmReply obj) => obj.Text.GetHashCode();
    }
}
