using System.Diagnostics;
using NeuronEngine.Explain;
using NeuronEngine.OpenAi;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Explain.Servers;
using NeuronEngine.Tests.Support;
using static NeuronEngine.Tests.Explain.ExplainTestKit;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// Every server × simulator mode of issue 23's table, each server replayed in the shape its source writes
/// (tests/Explain/Servers), over records with accented and CJK tokens that the servers' tokenizers cut into byte
/// pieces. Where a server supports a mode the run simulates every sequence (none fails) with the fake model's
/// values; where it does not, the run stops at once, after one request, with the server's words.
/// </summary>
public class ServerMatrixTests
{
    private static readonly Dictionary<string, SimulatedServer> Servers = new[]
    {
        SimulatedServers.Vllm, SimulatedServers.VllmByteLevelBpe, SimulatedServers.VllmCorrected, SimulatedServers.VllmSpaceDropped,
        SimulatedServers.VllmRawByteLevel, SimulatedServers.VllmRawSentencePiece, SimulatedServers.LlamaCpp, SimulatedServers.Ollama, SimulatedServers.OpenAi,
    }.ToDictionary(s => s.Name);

    public static TheoryData<string, SimulatorMode> Supported
    {
        get
        {
            var data = new TheoryData<string, SimulatorMode>();
            foreach (var server in Servers.Values)
                foreach (var mode in Enum.GetValues<SimulatorMode>())
                    if (mode != SimulatorMode.Echo || server.Name.StartsWith("vLLM", StringComparison.Ordinal)) data.Add(server.Name, mode);
            return data;
        }
    }

    [Theory, MemberData(nameof(Supported))]
    public async Task EverySequenceWithAccentedAndCjkTokensSimulates(string serverName, SimulatorMode mode)
    {
        var shape = Servers[serverName];
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], SimulatedServers.Vocabulary, Neurons);
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = shape.Reply;

        var (explain, simulate) = await ExplainPipelineTests.RunAsync(server, dir.Path, dir["cache.sqlite"], mode);
        Assert.Empty(explain.Failures);
        Assert.True(simulate.Failures.Count == 0, string.Join("\n", simulate.Failures.Select(f => f.Reason)));
        Assert.Equal(3, simulate.Completed);
        // One explanation and 8 simulations per neuron, and echo mode's one probe.
        Assert.Equal(3 + 3 * SimulatorCallsPerExplanation + (mode == SimulatorMode.Echo ? 1 : 0), server.RequestCount);

        // The fake model: 8 (p .75) / 6 (p .25) on the target, expected 7.5; 0 (p .9) / 1 (p .1) elsewhere, 0.1; json mode
        // the integers 8 and 0. OpenAI's echo parser gives 0 where the newline before a token line folded into a newline
        // token, which a byte-level BPE does (runs of newlines are one token) and a byte-fallback tokenizer does not.
        bool folds = mode == SimulatorMode.Echo && (serverName.Contains("byte-level", StringComparison.OrdinalIgnoreCase));
        double hit = mode == SimulatorMode.Json ? 8 : 7.5, miss = mode == SimulatorMode.Json ? 0 : 0.1;
        int nonAscii = 0;
        foreach (var (layer, neuron) in Neurons)
        {
            string target = FakeNeuronModel.TargetOf(layer, neuron, SimulatedServers.Vocabulary);
            var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], layer, neuron)).Results!;
            var sequences = Assert.Single(results.ScoredExplanations).ScoredSimulation.ScoredSequenceSimulations;
            Assert.Equal(4, sequences.Length);
            foreach (var simulation in sequences.Select(s => s.Simulation))
                for (int i = 0; i < simulation.Tokens.Length; i++)
                {
                    string token = simulation.Tokens[i];
                    nonAscii += token.Any(c => c > 0x7F) ? 1 : 0;
                    double want = folds && token == "\n" ? 0 : token == target ? hit : miss;
                    Assert.True(Math.Abs(want - simulation.ExpectedActivations[i]) < 1e-6, // chat logprobs travel as float32
                        $"{layer}/{neuron} token {i} '{token}': expected {want}, got {simulation.ExpectedActivations[i]}");
                }
        }
        Assert.True(nonAscii > 20, $"only {nonAscii} accented or CJK tokens were simulated");
    }

    /// <summary>
    /// Explains, then simulates in echo mode against <paramref name="server"/>, which must stop the run: the refusal
    /// and how many requests the simulate stage made.
    /// </summary>
    private static async Task<(LlmEndpointException Refusal, int Requests, TimeSpan Took, LlmUsageReport Usage)> RefusedEchoAsync(
        SimulatedServer server, LlmResilienceOptions resilience)
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], SimulatedServers.Vocabulary, Neurons);
        await using var fake = await FakeLlmServer.StartAsync();
        fake.Script = server.Reply;
        using var gateway = LlmGateway.ForOpenAiCompatible(fake.BaseUrl, null, null, new LlmUsage(new LlmBudget(), new LlmPrices()), resilience);
        var runner = new ExplainRunner(gateway, Options(SimulatorMode.Echo));
        var neurons = NeuronRecordFile.Enumerate(dir["records"]);
        await runner.ExplainAsync(neurons, dir["explainer"]);
        int before = fake.RequestCount;
        var clock = Stopwatch.StartNew();
        var refusal = await Assert.ThrowsAsync<LlmEndpointException>(() => runner.SimulateAsync(neurons, dir["explainer"], dir["out"]));
        var took = clock.Elapsed;
        Assert.False(Directory.Exists(dir["out/explanations"]) && Directory.EnumerateFiles(dir["out/explanations"], "*.jsonl", SearchOption.AllDirectories).Any());
        return (refusal, fake.RequestCount - before, took, gateway.Usage.Report());
    }

    [Fact]
    public async Task LlamaCppsRefusedEchoStopsTheRunAfterOneRequestWithItsMessage()
    {
        // The retries a user gets by default: retried, this refusal took 18 attempts and ~67 s per neuron.
        var (refusal, requests, took, usage) = await RefusedEchoAsync(SimulatedServers.LlamaCpp, LlmResilienceOptions.Defaults);
        Assert.Equal(1, requests); // the probe, refused: no retry, no neuron's calls
        Assert.Equal(0, usage.Retries);
        Assert.True(took < TimeSpan.FromSeconds(10), $"took {took}");
        Assert.Contains("with HTTP 500: Only no echo is supported", refusal.Message);
        Assert.Contains("use --simulator-mode logprobs", refusal.Message);
    }

    [Fact]
    public async Task OllamaIgnoresEchoAndTheProbeSaysSoAfterOneRequest()
    {
        var (refusal, requests, _, _) = await RefusedEchoAsync(SimulatedServers.Ollama, Fast());
        Assert.Equal(1, requests);
        Assert.Contains("echo mode cannot be read from model 'simulator-model'", refusal.Message);
        Assert.Contains("does not echo the prompt", refusal.Message);
        Assert.Contains("--simulator-mode logprobs", refusal.Message);
    }

    [Fact]
    public async Task OpenAisApiIsRefusedForEchoBeforeAnyCallAndItsOwnRefusalIsOneRequest()
    {
        var options = Options(SimulatorMode.Echo);
        Assert.Contains("OpenAI's API allows at most 5 logprobs on /v1/completions", EchoSupport.RefusedUpFront("https://api.openai.com/v1", options));
        Assert.Null(EchoSupport.RefusedUpFront("https://api.openai.com/v1", options with { TopLogprobs = 5 }));
        Assert.Null(EchoSupport.RefusedUpFront("http://localhost:8000/v1", options));
        Assert.Null(EchoSupport.RefusedUpFront("https://api.openai.com/v1", options with { SimulatorMode = SimulatorMode.Logprobs }));

        // Behind another address (a proxy), OpenAI's own 400 stops the run after one request.
        var (refusal, requests, _, _) = await RefusedEchoAsync(SimulatedServers.OpenAi, Fast());
        Assert.Equal(1, requests);
        Assert.Contains("HTTP 400: logprobs must be at most 5", refusal.Message);
    }
}
