using System.Text.Json.Nodes;
using NeuronEngine.Explain;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;
using static NeuronEngine.Tests.Explain.ExplainTestKit;

namespace NeuronEngine.Tests.Explain;

/// <summary>explain → simulate → score through a real HTTP server on 127.0.0.1, in process.</summary>
public class ExplainPipelineTests
{
    private static async Task<(StageSummary Explain, StageSummary Simulate)> RunAsync(
        FakeLlmServer server, string root, string cachePath, SimulatorMode mode, CancellationToken cancel = default, LlmBudget? budget = null)
    {
        using var cache = new LlmCallCache(cachePath);
        using var gateway = Gateway(server, cache, budget: budget);
        var runner = new ExplainRunner(gateway, Options(mode));
        var neurons = NeuronRecordFile.Enumerate(Path.Combine(root, "records"));
        var explain = await runner.ExplainAsync(neurons, Path.Combine(root, "explainer"), null, cancel);
        var simulate = await runner.SimulateAsync(neurons, Path.Combine(root, "explainer"), Path.Combine(root, "out"), null, cancel);
        return (explain, simulate);
    }

    [Theory]
    [InlineData(SimulatorMode.Logprobs)]
    [InlineData(SimulatorMode.Json)]
    public async Task ExplainSimulateScoreEndToEndThenEveryCallFromTheCache(SimulatorMode mode)
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        await using var server = await FakeLlmServer.StartAsync();

        var (explain, simulate) = await RunAsync(server, dir.Path, dir["cache.sqlite"], mode);
        Assert.Equal((3, 0), (explain.Completed, explain.Failures.Count));
        Assert.Equal((3, 0), (simulate.Completed, simulate.Failures.Count));
        Assert.Equal(3 + 3 * 4, server.RequestCount); // one explanation and four scored records per neuron
        Assert.All(server.Requests.Where(r => !r.IsExplainer), r => Assert.Equal(mode == SimulatorMode.Json, r.WantsJson));
        Assert.All(server.Requests.Where(r => !r.IsExplainer), r => Assert.Equal(mode == SimulatorMode.Logprobs ? 15 : 0, r.TopLogprobs));

        foreach (var (layer, neuron) in Neurons)
        {
            var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], layer, neuron)).Results!;
            string target = ActivationFormat.DisplayToken(FakeNeuronModel.TargetOf(layer, neuron)).Trim();
            var best = Assert.Single(results.ScoredExplanations);
            Assert.Equal($"the word \"{target}\"", best.Explanation);
            var sequences = best.ScoredSimulation.ScoredSequenceSimulations;
            Assert.Equal(4, sequences.Length);
            // The fake predicts 8 (p .75) / 6 (p .25), expected 7.5, on the target word and 0 (p .9) / 1 (p .1) elsewhere.
            var onTarget = sequences[0].Simulation.Tokens.Select((t, i) => (t, i)).Where(x => x.t == FakeNeuronModel.TargetOf(layer, neuron)).ToArray();
            Assert.NotEmpty(onTarget);
            double hit = mode == SimulatorMode.Logprobs ? 7.5 : 8, miss = mode == SimulatorMode.Logprobs ? 0.1 : 0;
            for (int i = 0; i < sequences[0].Simulation.Tokens.Length; i++)
                Assert.Equal(onTarget.Any(x => x.i == i) ? hit : miss, sequences[0].Simulation.ExpectedActivations[i], 6); // logprobs travel as float32
            var expected = ScoreCalculator.Score(sequences.Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)));
            Assert.Equal(expected.EvCorrelation, best.ScoredSimulation.EvCorrelationScore);
            Assert.True(best.ScoredSimulation.EvCorrelationScore > 0.9, $"ev {best.ScoredSimulation.EvCorrelationScore}");
        }

        // `engine score`'s rescoring agrees with the scores written here.
        var rescored = new ScoreRunner(new CpuBatchScorer()).Run(dir["out/explanations"], dir["rescored"]);
        var ours = File.ReadAllLines(dir["out/scores.jsonl"]).Select(l => JsonNode.Parse(l)!).ToArray();
        var theirs = File.ReadAllLines(dir["rescored/scores.jsonl"]).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(3, rescored.NeuronCount);
        for (int i = 0; i < 3; i++)
            Assert.Equal((double)theirs[i]["ev_correlation_score"]!, (double)ours[i]["ev_correlation_score"]!, 6); // the batch scorer packs values as float32

        // A second run over the same cache, into fresh directories, asks the server nothing and writes the same files.
        var before = Snapshot(dir["out"]);
        Directory.Delete(dir["out"], true);
        Directory.Delete(dir["explainer"], true);
        int requests = server.RequestCount;
        await RunAsync(server, dir.Path, dir["cache.sqlite"], mode);
        Assert.Equal(requests, server.RequestCount);
        Assert.Equal(before, Snapshot(dir["out"]));
    }

    [Theory]
    [InlineData(SimulatorMode.Logprobs)]
    [InlineData(SimulatorMode.Json)]
    public async Task MalformedRepliesAndWrongTokenCountsFailOnlyTheirSequence(SimulatorMode mode)
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], (0, 1));
        var scored = RecordSplits.ScoredRecords(FakeNeuronModel.Record(0, 1), 2);
        string Key(IEnumerable<string> tokens) => string.Join("|", tokens.Select(ActivationFormat.DisplayToken));
        string garbled = Key(scored[0].Record.Tokens), shortened = Key(scored[1].Record.Tokens);
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = request =>
        {
            if (request.IsExplainer) return FakeNeuronModel.Reply(request);
            string tokens = Key(FakeNeuronModel.Question(request.LastUserText).Tokens);
            if (tokens == garbled)
                return new FakeLlmReply.Completion(mode == SimulatorMode.Json ? "{\"activations\": [oops" : "I cannot predict this.",
                    mode == SimulatorMode.Json ? null : [("I cannot predict this.", -0.1, [("I cannot predict this.", -0.1)])]);
            var reply = (FakeLlmReply.Completion)FakeNeuronModel.Reply(request);
            if (tokens != shortened) return reply;
            if (mode == SimulatorMode.Json)
            {
                var json = JsonNode.Parse(reply.Content)!;
                json["activations"]!.AsArray().RemoveAt(0);
                return new FakeLlmReply.Completion(json.ToJsonString());
            }
            var dropped = reply.Logprobs!.Skip(5).ToList(); // "<start>\n", then the first line's four tokens
            dropped.Insert(0, reply.Logprobs![0]);
            return new FakeLlmReply.Completion(string.Concat(dropped.Select(d => d.Token)), dropped);
        };

        var (_, simulate) = await RunAsync(server, dir.Path, dir["cache.sqlite"], mode);
        Assert.Equal(1, simulate.Completed);
        var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], 0, 1)).Results!;
        var simulation = results.ScoredExplanations[0].ScoredSimulation;
        Assert.Equal(2, simulation.ScoredSequenceSimulations.Length); // the two random records
        Assert.NotNull(simulation.EvCorrelationScore);
        var failed = simulation.ExtraFields![NeuronSimulator.FailedSequencesField].EnumerateArray().Select(e => e.GetProperty("reason").GetString()!).ToArray();
        Assert.Equal(2, failed.Length);
        Assert.Contains(failed, r => r.Contains(mode == SimulatorMode.Json ? "unparseable JSON" : "expected 6 token lines, got 1"));
        Assert.Contains(failed, r => r.Contains(mode == SimulatorMode.Json ? "expected 6 tokens, got 5" : "expected 6 token lines, got 5"));
        var failuresFile = File.ReadAllLines(dir["out/failures.jsonl"]);
        Assert.Equal(2, failuresFile.Length);
        Assert.All(failuresFile, l => Assert.Equal("sequence", (string)JsonNode.Parse(l)!["stage"]!));
        Assert.Single(File.ReadAllLines(dir["out/scores.jsonl"]));
    }

    [Fact]
    public async Task ACallThatKeepsFailingFailsItsNeuronAndTheRunGoesOn()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        string doomed = $"{FakeNeuronModel.TargetOf(0, 1)}\t10";
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => r.IsExplainer && r.LastUserText.Contains(doomed) ? new FakeLlmReply.Error(500) : FakeNeuronModel.Reply(r);

        var (explain, simulate) = await RunAsync(server, dir.Path, dir["cache.sqlite"], SimulatorMode.Logprobs);
        var failure = Assert.Single(explain.Failures);
        Assert.Equal((0, 1, "explain"), (failure.Layer, failure.Neuron, failure.Stage));
        Assert.Contains("HTTP 500 after 2 retries", failure.Reason);
        Assert.Equal(3, server.Requests.Count(r => r.IsExplainer && r.LastUserText.Contains(doomed))); // 1 + 2 retries, none stacked by the SDK
        Assert.Equal(2, simulate.Completed);
        Assert.Contains("no explanations file", Assert.Single(simulate.Failures).Reason);
    }

    [Fact]
    public async Task ACancelledRunResumesToTheSameResultsAsAnUninterruptedOne()
    {
        using var dir = new TempDir();
        await using var server = await FakeLlmServer.StartAsync();
        string reference = dir["reference"], interrupted = dir["interrupted"];
        FakeNeuronModel.WriteRecords(Path.Combine(reference, "records"), Neurons);
        FakeNeuronModel.WriteRecords(Path.Combine(interrupted, "records"), Neurons);
        await RunAsync(server, reference, dir["reference.sqlite"], SimulatorMode.Logprobs);
        int uninterruptedCalls = server.RequestCount;

        using var cancel = new CancellationTokenSource();
        int first = server.RequestCount;
        server.Script = r =>
        {
            if (r.Number - first == 8) cancel.Cancel(); // midway through the simulate stage
            return FakeNeuronModel.Reply(r);
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RunAsync(server, interrupted, dir["interrupted.sqlite"], SimulatorMode.Logprobs, cancel.Token));
        Assert.True(Directory.Exists(Path.Combine(interrupted, "explainer")));
        server.Script = FakeNeuronModel.Reply;
        int beforeResume = server.RequestCount;
        await RunAsync(server, interrupted, dir["interrupted.sqlite"], SimulatorMode.Logprobs);
        Assert.True(server.RequestCount - beforeResume < uninterruptedCalls, "the resumed run must reuse what the cancelled one got");
        Assert.Equal(Snapshot(Path.Combine(reference, "out")), Snapshot(Path.Combine(interrupted, "out")));
        Assert.Equal(Snapshot(Path.Combine(reference, "explainer")), Snapshot(Path.Combine(interrupted, "explainer")));
    }

    [Fact]
    public async Task ASpentBudgetStopsTheRunAndARerunFinishesIt()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        await using var server = await FakeLlmServer.StartAsync();
        var (explain, _) = await RunAsync(server, dir.Path, dir["cache.sqlite"], SimulatorMode.Json, budget: new LlmBudget(MaxCalls: 2));
        Assert.Contains("--max-calls 2", explain.StoppedBy);
        Assert.Equal(2, server.RequestCount);
        var (_, simulate) = await RunAsync(server, dir.Path, dir["cache.sqlite"], SimulatorMode.Json);
        Assert.Equal(3, simulate.Completed);
        Assert.Equal(3, File.ReadAllLines(dir["out/scores.jsonl"]).Length);
    }

    [Fact]
    public async Task SamplesAreAskedSeparatelyAndTheBestScoringExplanationComesFirst()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], (0, 1));
        await using var server = await FakeLlmServer.StartAsync();
        int explainerCalls = 0;
        // The two samples are the same request: the first to arrive gets a wrong explanation, the second the right one.
        server.Script = r => r.IsExplainer && Interlocked.Increment(ref explainerCalls) == 1
            ? new FakeLlmReply.Completion("the word \"zebra\".")
            : FakeNeuronModel.Reply(r);
        using var cache = new LlmCallCache(dir["cache.sqlite"]);
        using var gateway = Gateway(server, cache);
        var runner = new ExplainRunner(gateway, Options(SimulatorMode.Json) with { Samples = 2 });
        var neurons = NeuronRecordFile.Enumerate(dir["records"]);
        await runner.ExplainAsync(neurons, dir["explainer"]);
        await runner.SimulateAsync(neurons, dir["explainer"], dir["out"]);

        Assert.Equal(2, explainerCalls); // the sample index keeps the cache from answering the second with the first
        var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], 0, 1)).Results!;
        Assert.Equal(["the word \"sat\"", "the word \"zebra\""], results.ScoredExplanations.Select(e => e.Explanation));
        Assert.Null(results.ScoredExplanations[1].ScoredSimulation.EvCorrelationScore); // predicts 0 everywhere: constant
        Assert.Equal("the word \"sat\"", (string)JsonNode.Parse(File.ReadAllText(dir["out/scores.jsonl"]))!["explanation"]!);
    }

    [Fact]
    public void ATokenBudgetRefusesCallsOnceSpent()
    {
        var usage = new LlmUsage(new LlmBudget(MaxTokensTotal: 100), new LlmPrices(1m, 3m));
        usage.ClaimCall();
        usage.AddTokens(60, 30);
        usage.ClaimCall();
        usage.AddTokens(5, 5);
        Assert.Contains("--max-tokens-total 100", Assert.Throws<LlmBudgetExceededException>(usage.ClaimCall).Message);
        var report = usage.Report();
        Assert.Equal((2L, 65L, 35L), (report.Calls, report.InputTokens, report.OutputTokens));
        Assert.Equal((65 * 1m + 35 * 3m) / 1_000_000m, report.EstimatedCostUsd);
    }
}
