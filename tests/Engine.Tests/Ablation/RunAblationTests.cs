using System.Text.Json.Nodes;
using NeuronEngine.Model;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Explain;
using NeuronEngine.Tests.Support;
using static NeuronEngine.Tests.Explain.ExplainTestKit;

namespace NeuronEngine.Tests.Ablation;

/// <summary>`engine run --ablation`: after simulation, the ablation score in scores.jsonl and the sidecars, equal to `score --ablation` on the same results.</summary>
public class RunAblationTests
{
    [Fact]
    public async Task RunAddsTheAblationScoreAsScoreDoes()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        string model = dir["model"];
        SyntheticGpt2.Write(model, new Gpt2Config(2, 2, 32, 16, NeuronEngine.Text.Gpt2Tokenizer.VocabSize), new(Seed: 61));
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = FakeNeuronModel.Reply;
        var environment = new Dictionary<string, string> { ["ENGINE_API_KEY"] = SentinelKey, ["ENGINE_CACHE"] = dir["cache"], ["ENGINE_BASE_URL"] = "" };
        var run = await Task.Run(() => EngineProcess.Run(environment,
            "run", "--records", dir["records"], "--out", dir["out"], "--base-url", server.BaseUrl, "--explainer-model", "explainer-model",
            "--simulator-model", "simulator-model", "--no-cache", "--examples-per-split", "2", "--retry-delay", "0.01", "--timeout", "10",
            "--simulator-mode", "json", "--ablation", "--model", model, "--device", "cpu"));
        Assert.True(run.ExitCode == 0, run.StdErr + run.StdOut);
        Assert.Contains("ablation: 3 neurons with an ablation_score", run.StdOut);
        var lines = File.ReadAllLines(dir["out/scores.jsonl"]).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(3, lines.Length);
        Assert.All(lines, l => Assert.NotNull(l["ablation_score"]));
        var sidecar = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(dir["out/explanations"], 1, 0))!;
        Assert.Equal((double)lines[2]["ablation_score"]!, sidecar.ScoredExplanations[0].AblationScore);

        // `score --ablation` over the run's results gives the same numbers.
        var score = EngineProcess.Run(null, "score", "--explanations", dir["out/explanations"], "--out", dir["rescored"], "--ablation", "--model", model, "--device", "cpu");
        Assert.True(score.ExitCode == 0, score.StdErr);
        var again = File.ReadAllLines(dir["rescored/scores.jsonl"]).Select(l => (double)JsonNode.Parse(l)!["ablation_score"]!).ToArray();
        Assert.Equal(lines.Select(l => (double)l["ablation_score"]!), again);
    }
}
