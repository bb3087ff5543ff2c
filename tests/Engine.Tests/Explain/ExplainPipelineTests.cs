using System.Text.Json.Nodes;
using NeuronEngine.Explain;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;
using static NeuronEngine.Tests.Explain.ExplainTestKit;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Explain;

/// <summary>explain → simulate → score through a real HTTP server on 127.0.0.1, in process.</summary>
public class ExplainPipelineTests
{
    internal static async Task<(StageSummary Explain, StageSummary Simulate)> RunAsync(
        FakeLlmServer server, string root, string cachePath, SimulatorMode mode, CancellationToken cancel = default, LlmBudget? budget = null,
        ExplainRunOptions? options = null)
    {
        using var cache = new LlmCallCache(cachePath);
        using var gateway = Gateway(server, cache, budget: budget);
        var runner = new ExplainRunner(gateway, options ?? Options(mode));
        var neurons = NeuronRecordFile.Enumerate(Path.Combine(root, "records"));
        var explain = await runner.ExplainAsync(neurons, Path.Combine(root, "explainer"), null, cancel);
        var simulate = await runner.SimulateAsync(neurons, Path.Combine(root, "explainer"), Path.Combine(root, "out"), null, cancel);
        return (explain, simulate);
    }

    [Theory]
    [InlineData(SimulatorMode.Logprobs)]
    [InlineData(SimulatorMode.Json)]
    [InlineData(SimulatorMode.Echo)]
    public async Task ExplainSimulateScoreEndToEndThenEveryCallFromTheCache(SimulatorMode mode)
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        await using var server = await FakeLlmServer.StartAsync();

        var (explain, simulate) = await RunAsync(server, dir.Path, dir["cache.sqlite"], mode);
        Assert.Equal((3, 0), (explain.Completed, explain.Failures.Count));
        Assert.Equal((3, 0), (simulate.Completed, simulate.Failures.Count));
        // One explanation, 4 valid and 4 calibration records per neuron, and echo mode's one probe of the endpoint.
        Assert.Equal(3 + 3 * SimulatorCallsPerExplanation + (mode == SimulatorMode.Echo ? 1 : 0), server.RequestCount);
        var simulator = server.Requests.Where(r => !r.IsExplainer).ToArray();
        Assert.All(simulator, r => Assert.Equal(mode == SimulatorMode.Echo, r.IsCompletion));
        Assert.All(simulator, r => Assert.Equal(mode == SimulatorMode.Json, r.WantsJson));
        Assert.All(simulator, r => Assert.Equal(mode == SimulatorMode.Json ? 0 : 15, r.TopLogprobs));

        foreach (var (layer, neuron) in Neurons)
        {
            var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], layer, neuron)).Results!;
            var sidecar = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(dir["out/explanations"], layer, neuron))!;
            Assert.Null(sidecar.Mismatch(results));
            string target = FakeNeuronModel.TargetOf(layer, neuron);
            var best = Assert.Single(results.ScoredExplanations);
            Assert.Equal($"the word \"{target.Trim()}\".", best.Explanation); // the completion as OpenAI keeps it
            var sequences = best.ScoredSimulation.ScoredSequenceSimulations;
            Assert.Equal(4, sequences.Length);
            var side = Assert.Single(sidecar.ScoredExplanations);
            Assert.Equal([(RecordSource.Top, 2), (RecordSource.Top, 6), (RecordSource.Random, 1), (RecordSource.Random, 4)],
                side.Sequences.Select(s => (s.Source, s.Index)));
            Assert.Equal([(RecordSource.Top, 1), (RecordSource.Top, 5), (RecordSource.Random, 0), (RecordSource.Random, 3)],
                side.CalibrationSequences!.Select(s => (s.Source, s.Index)));
            Assert.Equal((mode.ToString().ToLowerInvariant(), "explainer-model", "simulator-model"), (sidecar.SimulatorMode, sidecar.ExplainerModel, sidecar.SimulatorModel));
            var record = FakeNeuronModel.Record(layer, neuron);
            Assert.Equal(record.MostPositiveActivationRecords[2].Activations, sequences[0].TrueActivations);
            Assert.Equal(record.RandomSample[1].Activations, sequences[2].TrueActivations);

            // The fake predicts 8 (p .75) / 6 (p .25), expected 7.5, on the target word and 0 (p .9) / 1 (p .1) elsewhere;
            // OpenAI's echo parser gives 0 where the newline before a token line folded into a newline token.
            var first = sequences[0].Simulation;
            double hit = mode == SimulatorMode.Json ? 8 : 7.5, miss = mode == SimulatorMode.Json ? 0 : 0.1;
            for (int i = 0; i < first.Tokens.Length; i++)
            {
                double want = first.Tokens[i] == target ? hit : mode == SimulatorMode.Echo && first.Tokens[i] == "\n" ? 0 : miss;
                Assert.Equal(want, first.ExpectedActivations[i], 6); // chat logprobs travel as float32
            }
            Assert.Equal(mode == SimulatorMode.Echo ? first.Tokens.Count(t => t == "\n") : 0, side.Sequences[0].PositionsWithoutNumericAlternative);
            var expected = ScoreCalculator.Score(sequences.Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)));
            Assert.Equal(expected.EvCorrelation!.Value, best.ScoredSimulation.EvCorrelationScore!.Value, 12);
            Assert.True(best.ScoredSimulation.EvCorrelationScore > 0.9, $"ev {best.ScoredSimulation.EvCorrelationScore}");
        }

        // `engine score` over the same files writes the same scores.jsonl, every column, and the same files.
        new ScoreRunner(new CpuBatchScorer()).Run(dir["out/explanations"], dir["rescored"]);
        Assert.Equal(File.ReadAllText(dir["out/scores.jsonl"]), File.ReadAllText(dir["rescored/scores.jsonl"]));
        Assert.Equal(Snapshot(dir["out/explanations"]), Snapshot(dir["rescored/explanations"]));
        Assert.All(File.ReadAllLines(dir["out/scores.jsonl"]), l => Assert.NotNull(JsonNode.Parse(l)!["calibrated_rsquared_score"]));

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
    [InlineData(SimulatorMode.Echo)]
    public async Task MalformedRepliesAndWrongTokenCountsFailOnlyTheirSequence(SimulatorMode mode)
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], (0, 1));
        var valid = RecordSplits.Valid(FakeNeuronModel.Record(0, 1), 2);
        string Key(IEnumerable<string> tokens) => string.Join("|", tokens);
        string garbled = Key(valid[0].Record.Tokens), shortened = Key(valid[1].Record.Tokens);
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = request =>
        {
            if (request.IsExplainer) return FakeNeuronModel.Reply(request);
            string tokens = Key(FakeNeuronModel.Question(request.LastUserText).Tokens);
            var reply = FakeNeuronModel.Reply(request);
            if (tokens == garbled)
                return mode switch
                {
                    SimulatorMode.Json => new FakeLlmReply.Completion("{\"activations\": [oops"),
                    SimulatorMode.Logprobs => new FakeLlmReply.Completion("I cannot predict this.", [("I cannot predict this.", -0.1, [("I cannot predict this.", -0.1)])]),
                    _ => new FakeLlmReply.Echo([.. ((FakeLlmReply.Echo)reply).Tokens.Where(t => t.Token != "unknown")]),
                };
            if (tokens != shortened) return reply;
            switch (reply)
            {
                case FakeLlmReply.Completion { Logprobs: null } json:
                    var parsed = JsonNode.Parse(json.Content)!;
                    parsed["activations"]!.AsArray().RemoveAt(0);
                    return new FakeLlmReply.Completion(parsed.ToJsonString());
                case FakeLlmReply.Completion chat:
                    var dropped = chat.Logprobs!.Take(chat.Logprobs!.Count - 5).Append(chat.Logprobs![^1]).ToList(); // the last line's four tokens
                    return new FakeLlmReply.Completion(string.Concat(dropped.Select(d => d.Token)), dropped);
                default:
                    var echo = ((FakeLlmReply.Echo)reply).Tokens;
                    return new FakeLlmReply.Echo([.. echo.Take(echo.Count - 3)]); // no "<end>" after the last line
            }
        };

        var (_, simulate) = await RunAsync(server, dir.Path, dir["cache.sqlite"], mode);
        Assert.Equal(1, simulate.Completed);
        var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], 0, 1)).Results!;
        var simulation = results.ScoredExplanations[0].ScoredSimulation;
        Assert.Equal(2, simulation.ScoredSequenceSimulations.Length); // the two random records
        Assert.NotNull(simulation.EvCorrelationScore);
        var side = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(dir["out/explanations"], 0, 1))!.ScoredExplanations[0];
        Assert.Equal([RecordSource.Random, RecordSource.Random], side.Sequences.Select(s => s.Source));
        Assert.Equal([(RecordSplit.Valid, RecordSource.Top, 2), (RecordSplit.Valid, RecordSource.Top, 6)], side.FailedSequences.Select(f => (f.Split, f.Source, f.Index)));
        var reasons = side.FailedSequences.Select(f => f.Reason).ToArray();
        Assert.Contains(mode switch { SimulatorMode.Json => "unparseable JSON", SimulatorMode.Logprobs => "expected 6 token lines, got 0", _ => "found 0 of 6 \"unknown\" value positions" }, reasons[0]);
        Assert.Contains(mode switch { SimulatorMode.Json => "expected 6 tokens, got 5", SimulatorMode.Logprobs => "expected 6 token lines, got 5", _ => "does not go on with \"<end>\"" }, reasons[1]);
        var failuresFile = File.ReadAllLines(dir["out/failures.jsonl"]);
        Assert.Equal(2, failuresFile.Length);
        Assert.All(failuresFile, l => Assert.Equal("sequence", (string)JsonNode.Parse(l)!["stage"]!));
        Assert.Contains("valid top record 2", failuresFile[0] + failuresFile[1]);
        var line = JsonNode.Parse(Assert.Single(File.ReadAllLines(dir["out/scores.jsonl"])))!;
        Assert.Null(line["top_only_ev_correlation_score"]); // no top sequence left: the sidecar says the two left are random
        Assert.Equal((double)line["ev_correlation_score"]!, (double)line["random_only_ev_correlation_score"]!);
    }

    [Fact]
    public async Task ARecordShortOfTheSplitsFailsItsNeuronNamingTheCounts()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], (0, 1));
        var full = FakeNeuronModel.Record(0, 2);
        NeuronRecordFile.Write(NeuronRecordFile.PathFor(dir["records"], 0, 2), full with { RandomSample = full.RandomSample[..5] });
        await using var server = await FakeLlmServer.StartAsync();
        var (explain, simulate) = await RunAsync(server, dir.Path, dir["cache.sqlite"], SimulatorMode.Json);
        Assert.Equal(2, explain.Completed); // the train split needs top records only
        var failure = Assert.Single(simulate.Failures);
        Assert.Equal((0, 2, "simulate"), (failure.Layer, failure.Neuron, failure.Stage));
        Assert.Contains("8 most_positive_activation_records and 5 random_sample records", failure.Reason);
        Assert.Contains("at least 8 most_positive_activation_records and 6 random_sample records", failure.Reason);
        Assert.False(File.Exists(SimulationResultsFile.PathFor(dir["out/explanations"], 0, 2)));
    }

    [Fact]
    public async Task AWindowThatIsBothATopAndARandomRecordIsSimulatedOnce()
    {
        using var dir = new TempDir();
        var record = FakeNeuronModel.Record(0, 1);
        var random = (ActivationRecord[])record.RandomSample.Clone();
        random[1] = record.MostPositiveActivationRecords[2]; // valid random 1 is the same window as valid top 2
        NeuronRecordFile.Write(NeuronRecordFile.PathFor(dir["records"], 0, 1), record with { RandomSample = random });
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => FakeNeuronModel.Reply(r) with { Delay = TimeSpan.FromMilliseconds(50) };
        using var cache = new LlmCallCache(dir["cache.sqlite"]);
        using var gateway = Gateway(server, cache);
        var runner = new ExplainRunner(gateway, Options(SimulatorMode.Json));
        var neurons = NeuronRecordFile.Enumerate(dir["records"]);
        await runner.ExplainAsync(neurons, dir["explainer"]);
        await runner.SimulateAsync(neurons, dir["explainer"], dir["out"]);

        Assert.Equal(1 + SimulatorCallsPerExplanation - 1, server.RequestCount); // one call for the shared window
        var usage = gateway.Usage.Report();
        Assert.Equal((long)server.RequestCount, usage.Calls);
        Assert.Equal(1, usage.SharedInFlight + usage.CacheHits);
        var sequences = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], 0, 1)).Results!
            .ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations;
        Assert.Equal(sequences[0].Simulation.ExpectedActivations, sequences[2].Simulation.ExpectedActivations); // both scored, from the one reply
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
        Assert.Contains("HTTP 500 (scripted failure) after 2 retries", failure.Reason);
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
            if (r.Number - first == 12) cancel.Cancel(); // midway through the simulate stage
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
    public async Task WithoutCalibrationHalfTheSimulatorCallsAndNoCalibratedScores()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], (0, 1));
        await using var server = await FakeLlmServer.StartAsync();
        await RunAsync(server, dir.Path, dir["cache.sqlite"], SimulatorMode.Json, options: Options(SimulatorMode.Json) with { Calibrate = false });
        Assert.Equal(1 + 4, server.RequestCount);
        Assert.Null(SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(dir["out/explanations"], 0, 1))!.ScoredExplanations[0].CalibrationSequences);
        var line = JsonNode.Parse(File.ReadAllText(dir["out/scores.jsonl"]))!;
        Assert.Null(line["calibrated_rsquared_score"]);
        Assert.Null(line["calibrated_absolute_dev_explained_score"]);
        Assert.NotNull(line["rsquared_score"]);
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
            ? new FakeLlmReply.Completion(" the word \"zebra\".")
            : FakeNeuronModel.Reply(r);
        using var cache = new LlmCallCache(dir["cache.sqlite"]);
        using var gateway = Gateway(server, cache);
        var runner = new ExplainRunner(gateway, Options(SimulatorMode.Json) with { Samples = 2 });
        var neurons = NeuronRecordFile.Enumerate(dir["records"]);
        await runner.ExplainAsync(neurons, dir["explainer"]);
        await runner.SimulateAsync(neurons, dir["explainer"], dir["out"]);

        Assert.Equal(2, explainerCalls); // the sample index keeps the cache from answering the second with the first
        var explained = ExplanationsFile.TryRead(ExplanationsFile.PathFor(dir["explainer"], 0, 1))!;
        Assert.Equal(["the word \"sat\"", "the word \"zebra\""], explained.CleanedExplanations.Order());
        var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], 0, 1)).Results!;
        Assert.Equal(["the word \"sat\".", "the word \"zebra\"."], results.ScoredExplanations.Select(e => e.Explanation));
        var sidecar = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(dir["out/explanations"], 0, 1))!;
        Assert.Equal(results.ScoredExplanations.Select(e => e.Explanation), sidecar.ScoredExplanations.Select(e => e.Explanation)); // sorted together
        Assert.Null(results.ScoredExplanations[1].ScoredSimulation.EvCorrelationScore); // predicts 0 everywhere: constant
        Assert.Equal("the word \"sat\".", (string)JsonNode.Parse(File.ReadAllText(dir["out/scores.jsonl"]))!["explanation"]!);
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
