using System.Text.Json.Nodes;
using NeuronEngine.Tests.Support;
using static NeuronEngine.Tests.Explain.ExplainTestKit;

namespace NeuronEngine.Tests.Explain;

/// <summary>`engine explain | simulate | run` as a user runs them: a separate process against a server on 127.0.0.1.</summary>
public class ExplainCommandTests
{
    private static Dictionary<string, string> Environment(string cacheRoot) => new()
    {
        ["ENGINE_API_KEY"] = SentinelKey,
        ["ENGINE_CACHE"] = cacheRoot,
        ["ENGINE_BASE_URL"] = "",
    };

    private static string[] RunArgs(FakeLlmServer server, string records, string output, string cache, params string[] more) =>
    [
        "run", "--records", records, "--out", output, "--base-url", server.BaseUrl, "--explainer-model", "explainer-model",
        "--simulator-model", "simulator-model", "--cache", cache, "--examples-per-split", "2", "--retry-delay", "0.01",
        "--timeout", "10", "--price-input", "1", "--price-output", "2", .. more,
    ];

    private static Task<(int ExitCode, string StdOut, string StdErr)> Engine(IDictionary<string, string> environment, params string[] args) =>
        Task.Run(() => EngineProcess.Run(environment, args));

    [Fact]
    public async Task WithoutAnEndpointItSaysExactlyWhatToSet()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], (0, 1));
        var r = await Engine(Environment(dir["cache"]), "explain", "--records", dir["records"], "--out", dir["out"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("error: no LLM endpoint configured: give --base-url URL", r.StdErr);
        Assert.Contains("ENGINE_API_KEY", r.StdErr);
        Assert.Contains("http://localhost:11434/v1 (Ollama)", r.StdErr);
        Assert.Single(r.StdErr.Trim().Split('\n'));

        var noModel = await Engine(Environment(dir["cache"]), "explain", "--records", dir["records"], "--out", dir["out"], "--base-url", "http://127.0.0.1:9/v1");
        Assert.Equal(2, noModel.ExitCode);
        Assert.Contains("no explainer model configured: give --explainer-model NAME", noModel.StdErr);
    }

    [Fact]
    public async Task RunEndToEndKeepsTheKeySecretAndASecondRunMakesNoCalls()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => r.Number == 1
            ? new FakeLlmReply.Error(429, Headers: new Dictionary<string, string> { ["retry-after-ms"] = "20" })
            : FakeNeuronModel.Reply(r);
        string cache = dir["cache/calls.sqlite"];

        var first = await Engine(Environment(dir["cache"]), RunArgs(server, dir["records"], dir["out"], cache, "--simulator-mode", "json"));
        Assert.True(first.ExitCode == 0, first.StdErr + first.StdOut);
        Assert.Equal(1 + 3 + 3 * SimulatorCallsPerExplanation, server.RequestCount);
        Assert.All(server.Requests, r => Assert.Equal($"Bearer {SentinelKey}", r.Authorization));
        Assert.Contains("retrying an LLM call", first.StdErr); // the 429 was logged…
        Assert.Contains("27 LLM calls (0 more answered from the cache, 1 retries)", first.StdOut);
        Assert.Contains("estimated cost $", first.StdOut);
        var scores = File.ReadAllLines(dir["out/scores.jsonl"]).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal([(0, 1), (0, 2), (1, 0)], scores.Select(s => ((int)s["layer"]!, (int)s["neuron"]!)));
        Assert.All(scores, s => Assert.True((double)s["ev_correlation_score"]! > 0.9));
        Assert.True(File.Exists(dir["out/explanations/1/0.jsonl"]) && File.Exists(dir["out/explainer/1/0.json"]));
        var usage = JsonNode.Parse(File.ReadAllText(dir["out/usage.json"]))!;
        Assert.Equal(27, (int)usage["calls"]!);
        Assert.True((bool)usage["calibration"]!);

        var second = await Engine(Environment(dir["cache"]), RunArgs(server, dir["records"], dir["out2"], cache, "--simulator-mode", "json"));
        Assert.True(second.ExitCode == 0, second.StdErr);
        Assert.Equal(28, server.RequestCount); // zero new requests
        Assert.Contains("0 LLM calls (27 more answered from the cache", second.StdOut);
        Assert.Equal(File.ReadAllText(dir["out/scores.jsonl"]), File.ReadAllText(dir["out2/scores.jsonl"]));

        // …and the key is nowhere: not in the cache (with its WAL), the results, usage.json or the logs.
        foreach (string file in Directory.EnumerateFiles(dir.Path, "*", SearchOption.AllDirectories))
            Assert.False(File.ReadAllText(file).Contains(SentinelKey, StringComparison.Ordinal), $"{file} holds the API key");
        Assert.NotEmpty(Directory.EnumerateFiles(dir["cache"]));
        foreach (string log in new[] { first.StdOut, first.StdErr, second.StdOut, second.StdErr })
            Assert.DoesNotContain(SentinelKey, log);
    }

    [Fact]
    public async Task EngineScoreOverRunsFilesWritesRunsScoresJsonlByteForByte()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        await using var server = await FakeLlmServer.StartAsync();
        string doomed = string.Join("|", FakeNeuronModel.Record(0, 2).MostPositiveActivationRecords[2].Tokens); // a failed valid top sequence
        server.Script = r => r.IsCompletion && string.Join("|", FakeNeuronModel.Question(r.Prompt).Tokens) == doomed
            ? new FakeLlmReply.Echo([("x", []), ("y", [])])
            : FakeNeuronModel.Reply(r);

        var run = await Engine(Environment(dir["cache"]), RunArgs(server, dir["records"], dir["out"], dir["calls.sqlite"], "--simulator-mode", "echo"));
        Assert.True(run.ExitCode == 0, run.StdErr + run.StdOut);
        Assert.Contains("1 sequence(s) failed to simulate", run.StdOut);
        Assert.All(server.Requests.Where(r => !r.IsExplainer), r => Assert.True(r.IsCompletion));

        var score = await Engine(Environment(dir["cache"]), "score", "--explanations", dir["out/explanations"], "--out", dir["rescored"], "--device", "cpu", "--write-results");
        Assert.True(score.ExitCode == 0, score.StdErr);
        Assert.Equal(File.ReadAllText(dir["out/scores.jsonl"]), File.ReadAllText(dir["rescored/scores.jsonl"]));
        foreach (string file in Directory.EnumerateFiles(dir.Path, "*.jsonl", SearchOption.AllDirectories).Where(f => f.Contains("explanations")))
            OpenAiStrictLoader.LoadResultsFile(file);
        Assert.True(File.Exists(dir["rescored/explanations/0/2-sidecar.json"]));
    }

    [Fact]
    public async Task ABudgetStopsWithExitCode3AndTheSameCommandFinishes()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        await using var server = await FakeLlmServer.StartAsync();
        string config = dir.WriteText("llm.json", $"{{\"base_url\": \"{server.BaseUrl}\", \"explainer-model\": \"explainer-model\", \"simulator_mode\": \"logprobs\", \"examples_per_split\": 2, \"max-calls\": 5}}");
        string[] args = ["run", "--records", dir["records"], "--out", dir["out"], "--config", config, "--cache", dir["calls.sqlite"]];
        var stopped = await Engine(Environment(dir["cache"]), args);
        Assert.True(stopped.ExitCode == 3, stopped.StdErr);
        Assert.Contains("stopped: --max-calls 5 reached; rerun the same command to continue", stopped.StdErr);
        Assert.Equal(5, server.RequestCount);

        var finished = await Engine(Environment(dir["cache"]), [.. args, "--max-calls", "100"]); // the command line wins over the file
        Assert.True(finished.ExitCode == 0, finished.StdErr);
        Assert.Equal(3, File.ReadAllLines(dir["out/scores.jsonl"]).Length);
        Assert.Equal(3 + 3 * SimulatorCallsPerExplanation, server.RequestCount); // nothing asked twice
        Assert.All(server.Requests.Where(r => !r.IsExplainer), r => Assert.True(r.WantsLogprobs));
    }

    [Fact]
    public async Task AKeyInTheConfigFileIsRefusedWithoutEchoingIt()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], (0, 1));
        string config = dir.WriteText("llm.json", $"{{\"base-url\": \"http://127.0.0.1:9/v1\", \"api_key\": \"{SentinelKey}\"}}");
        var r = await Engine(Environment(dir["cache"]), "explain", "--records", dir["records"], "--out", dir["out"], "--config", config);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("\"api_key\" is refused: the API key is read only from ENGINE_API_KEY or OPENAI_API_KEY", r.StdErr);
        Assert.DoesNotContain(SentinelKey, r.StdErr + r.StdOut);

        string unknown = dir.WriteText("typo.json", "{\"base-urll\": \"x\"}");
        var typo = await Engine(Environment(dir["cache"]), "explain", "--records", dir["records"], "--out", dir["out"], "--config", unknown);
        Assert.Equal(2, typo.ExitCode);
        Assert.Contains("typo.json: unknown option \"base-urll\"", typo.StdErr);
    }

    [Fact]
    public async Task ExplainThenSimulateAsSeparateCommands()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        await using var server = await FakeLlmServer.StartAsync();
        string[] common = ["--records", dir["records"], "--base-url", server.BaseUrl, "--cache", dir["calls.sqlite"], "--examples-per-split", "2", "--layers", "0"];
        var explain = await Engine(Environment(dir["cache"]), ["explain", "--out", dir["expl"], "--explainer-model", "explainer-model", .. common]);
        Assert.True(explain.ExitCode == 0, explain.StdErr);
        Assert.Contains("explain: 2 neurons: 2 done now, 0 already done, 0 failed", explain.StdOut);
        Assert.False(File.Exists(dir["expl/1/0.json"])); // --layers 0

        var simulate = await Engine(Environment(dir["cache"]), ["simulate", "--explainer-output", dir["expl"], "--out", dir["out"], "--simulator-model", "simulator-model", "--simulator-mode", "json", .. common]);
        Assert.True(simulate.ExitCode == 0, simulate.StdErr);
        Assert.Contains("simulate: 2 neurons: 2 done now", simulate.StdOut);
        Assert.Equal(2 + 2 * SimulatorCallsPerExplanation, server.RequestCount);
        Assert.All(server.Requests.Where(r => !r.IsExplainer), r => Assert.Equal("simulator-model", r.Model));
        Assert.Equal(2, File.ReadAllLines(dir["out/scores.jsonl"]).Length);
    }
}
