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
        Assert.Equal("the word \"cat\".", ExplainerPrompt.Completion(reply.Text));
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
            Assert.Contains("HTTP 503 (scripted failure) after 3 retries", e.Message); // the server's message passed on
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

    [Fact]
    public async Task IdenticalRequestsInFlightShareOneCall()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => FakeNeuronModel.Reply(r) with { Delay = TimeSpan.FromMilliseconds(300) };
        using var gateway = Gateway(server, null); // no cache: only the sharing can save the second call
        var request = ExplainRequest().ToRequest();
        var replies = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => gateway.CompleteAsync(request with { })));
        Assert.Equal(1, server.RequestCount);
        Assert.All(replies, r => Assert.Equal(replies[0].Text, r.Text));
        var usage = gateway.Usage.Report();
        Assert.Equal((1L, 4L), (usage.Calls, usage.SharedInFlight));
        Assert.Contains("4 shared with an identical call in flight", usage.ToString());

        // A different request is its own call; a failure reaches every request that shared it.
        await gateway.CompleteAsync(ExplainRequest("Neuron 1\nActivations:\n<start>\n dog\t10\n<end>\n").ToRequest());
        Assert.Equal(2, server.RequestCount);
        server.Script = _ => new FakeLlmReply.Error(500) { Delay = TimeSpan.FromMilliseconds(200) };
        var failing = ExplainRequest("Neuron 1\nActivations:\n<start>\n owl\t10\n<end>\n").ToRequest();
        var failures = Enumerable.Range(0, 3).Select(_ => gateway.CompleteAsync(failing)).ToArray();
        foreach (var f in failures) await Assert.ThrowsAsync<LlmCallFailedException>(() => f);
        Assert.Equal(2 + 3, server.RequestCount); // one call and its 2 retries, not three
    }

    [Fact]
    public async Task EchoCompletionsGoToCompletionsWithOpenAisRequestAndAreCachedAndRetried()
    {
        using var dir = new TempDir();
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => r.Number == 1 ? new FakeLlmReply.Error(503) : FakeNeuronModel.Reply(r);
        string prompt = SimulatorPrompt.BuildEcho("the word \"cat\".", [" the", " cat", "\n", " sat"], FewShotExamples.All);
        var request = new LlmCompletionRequest { Model = "simulator-model", Prompt = prompt, MaxTokens = 0, Echo = true, Logprobs = 15 };
        using (var cache = new LlmCallCache(dir["cache.sqlite"]))
        using (var gateway = Gateway(server, cache))
        {
            var reply = await gateway.CompleteTextAsync(request);
            var sent = server.Requests.Last();
            Assert.True(sent.IsCompletion);
            Assert.Equal((prompt, 0, true, 15, "simulator-model"), (sent.Prompt, (int)sent.Body["max_tokens"]!, (bool)sent.Body["echo"]!, (int)sent.Body["logprobs"]!, sent.Model));
            Assert.Equal($"Bearer {SentinelKey}", sent.Authorization);
            Assert.Equal(prompt, reply.Text);
            var usage = gateway.Usage.Report();
            Assert.Equal((1L, 1L), (usage.Calls, usage.Retries)); // the 503 went through the one retry layer
            Assert.True(usage.InputTokens > 0);

            var parse = EchoSimulationParser.Parse([" the", " cat", "\n", " sat"], reply);
            Assert.Null(parse.Failure);
            Assert.Equal([0.1, 7.5, 0, 0.1], parse.Simulation!.ExpectedActivations.Select(v => Math.Round(v, 9)));
            Assert.Equal(1, parse.PositionsWithoutNumericAlternative); // the newline folded into "\n\n", as OpenAI's parser allows
        }
        using (var cache = new LlmCallCache(dir["cache.sqlite"]))
        using (var gateway = Gateway(server, cache))
        {
            await gateway.CompleteTextAsync(request);
            Assert.Equal(2, server.RequestCount); // from the cache
            Assert.NotEqual(LlmCallCache.KeyFor(server.BaseUrl, request), LlmCallCache.KeyFor(server.BaseUrl, request with { Logprobs = 5 }));
            Assert.NotEqual(LlmCallCache.KeyFor(server.BaseUrl, request), LlmCallCache.KeyFor(server.BaseUrl, request with { Prompt = prompt + " " }));
        }
    }

    private sealed class ReplyComparer : IEqualityComparer<LlmReply>
    {
        public bool Equals(LlmReply? x, LlmReply? y) => x!.Text == y!.Text && x.InputTokens == y.InputTokens && x.OutputTokens == y.OutputTokens;
        public int GetHashCode(LlmReply obj) => obj.Text.GetHashCode();
    }
}
