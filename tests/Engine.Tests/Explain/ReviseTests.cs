using System.Text.Json;
using NeuronEngine.Explain;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Probe;
using NeuronEngine.Records;
using NeuronEngine.Runtime;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;
using static NeuronEngine.Tests.Explain.ExplainTestKit;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// `engine run --revise N` against the scripted server and a tiny subject model: the revision prompt shows what `probe`
/// measures, the results hold 1 + N candidates that OpenAI's loader reads, scores and generation scores match independent
/// computations, reruns are free, a budget stops at the exact count, and a reply without texts fails only that step.
/// </summary>
public sealed class ReviseTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Gpt2Config _config = new(2, 2, 32, 64, Gpt2Tokenizer.VocabSize);
    private readonly string _model;

    private static readonly string[] Fire = ["The cat sat on the mat.", "A cat ran past the dog."];
    private static readonly string[] NotFire = ["The dog sat on the mat.", "A car ran past the dog."];

    public ReviseTests()
    {
        _model = _dir["model"];
        SyntheticGpt2.Write(_model, _config, new(Seed: 9, DType: TensorDType.F32));
        FakeNeuronModel.WriteRecords(_dir["records"], Neurons);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Texts for a texts request (in a code fence, to exercise the lenient reading), "mat" for a revision (naming the original
    /// word, so no two neurons share a call), else the fake model.
    /// </summary>
    private static FakeLlmReply Script(FakeLlmRequest r, Func<FakeLlmRequest, FakeLlmReply?>? before = null)
    {
        if (before?.Invoke(r) is { } special) return special;
        if (!r.IsCompletion && r.SystemText == RevisionPrompt.TextsSystemMessage)
            return new FakeLlmReply.Completion("```json\n" + JsonSerializer.Serialize(new { should_fire = Fire, should_not_fire = NotFire }) + "\n```");
        if (r.IsExplainer && r.LastUserText.Contains("We tested this explanation", StringComparison.Ordinal))
            return new FakeLlmReply.Completion($" the word \"mat\", not {Original(r)}.");
        return FakeNeuronModel.Reply(r);
    }

    /// <summary>The original explanation's word in a revision request (the last assistant message: ` the word "sat".`).</summary>
    private static string Original(FakeLlmRequest r) =>
        FakeLlmRequest.Text(r.Messages.Last(m => (string)m!["role"]! == "assistant")!).Split('"')[1];

    private static string Revised(string target) => $"the word \"mat\", not {target.Trim()}.";

    private Dictionary<string, string> Environment() => new() { ["ENGINE_API_KEY"] = SentinelKey, ["ENGINE_CACHE"] = _dir["cache"], ["ENGINE_BASE_URL"] = "" };

    private string[] RunArgs(FakeLlmServer server, string output, params string[] more) =>
    [
        "run", "--records", _dir["records"], "--out", output, "--base-url", server.BaseUrl, "--explainer-model", "explainer-model",
        "--simulator-model", "simulator-model", "--cache", _dir[$"{Path.GetFileName(output)}.sqlite"], "--examples-per-split", "2",
        "--retry-delay", "0.01", "--timeout", "10", "--simulator-mode", "json", "--model", _model, "--device", "cpu",
        "--revise", "1", "--probe-texts", "4", .. more,
    ];

    /// <summary>Per neuron: explain, texts for the original, the revision, texts for the revision; then 2 candidates simulated.</summary>
    private const int CallsPerNeuron = 4 + 2 * SimulatorCallsPerExplanation;

    [Fact]
    public async Task ReviseOnceStoresBothCandidatesWithTheirMeasuredTextsAndScores()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => Script(r);
        var run = await Task.Run(() => EngineProcess.Run(Environment(), RunArgs(server, _dir["out"])));
        Assert.True(run.ExitCode == 0, run.StdErr + run.StdOut);
        Assert.Contains($"warning: {_dir["records"]} has no records.json, so --model model cannot be checked against the records' model", run.StdErr);
        Assert.Equal(Neurons.Length * CallsPerNeuron, server.RequestCount);

        // What the probe measures for the texts, computed here with the library call.
        using var weights = Gpt2Weights.Open(_model);
        using var device = DeviceCatalog.Create("cpu", weights);
        var probe = new ActivationProbe(device, weights.Config);
        string[] texts = [.. Fire, .. NotFire];
        var prepared = texts.Select(t => probe.Prepare(t)).ToArray();

        var scoreLines = File.ReadAllLines(_dir["out/scores.jsonl"]).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        foreach (var (layer, neuron) in Neurons)
        {
            var measured = probe.Measure([.. prepared.Select(p => p.TokenIds)], [new ProbeNeuron(layer, neuron)]);
            var record = FakeNeuronModel.Record(layer, neuron);
            double recordMax = record.MostPositiveActivationRecords.SelectMany(r => r.Activations).Max();

            // The revision prompt shows the measured values on OpenAI's 0-10 scale relative to the record max.
            var revision = server.Requests.Single(r => r.IsExplainer && r.LastUserText.Contains("We tested", StringComparison.Ordinal)
                && r.Messages.Any(m => FakeLlmRequest.Text(m!) == $" the word \"{FakeNeuronModel.TargetOf(layer, neuron).Trim()}\"."));
            var blocks = FakeNeuronModel.Blocks(revision.LastUserText);
            Assert.Equal(4, blocks.Count);
            for (int t = 0; t < texts.Length; t++)
            {
                var entries = FakeNeuronModel.Entries(blocks[t]).ToArray();
                Assert.Equal(probe.TokenStrings(prepared[t]), entries.Select(e => e.Token));
                var want = measured[t][0].Select(v => v > 0 ? Math.Min(10, (int)Math.Floor(10 * v / recordMax)) : 0);
                Assert.Equal(want, entries.Select(e => int.Parse(e.Value)));
            }

            string path = SimulationResultsFile.PathFor(_dir["out/explanations"], layer, neuron);
            OpenAiStrictLoader.LoadResultsFile(path);
            var results = SimulationResultsFile.Read(path).Results!;
            var sidecar = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(_dir["out/explanations"], layer, neuron))!;
            Assert.Equal(2, results.ScoredExplanations.Length);
            var candidates = sidecar.ScoredExplanations.Select(e => e.Candidate!).ToArray();
            Assert.Equal(["original", "revision 1"], candidates.OrderBy(c => c.Order).Select(c => c.Name));
            for (int e = 0; e < 2; e++)
            {
                var scored = results.ScoredExplanations[e];
                var expected = ScoreCalculator.Score(scored.ScoredSimulation.ScoredSequenceSimulations.Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)));
                Assert.Equal(expected.EvCorrelation!.Value, scored.ScoredSimulation.EvCorrelationScore!.Value, 12);
                var c = candidates[e];
                Assert.Equal(texts, c.ProbeTexts.Select(p => p.Text));
                Assert.Equal([true, true, false, false], c.ProbeTexts.Select(p => p.ShouldFire));
                for (int t = 0; t < texts.Length; t++) Assert.Equal(measured[t][0].Select(v => (double)v), c.ProbeTexts[t].Activations);
                // Generation score by hand: maxima against half the record max, and the pairwise AUROC.
                double[] fire = [measured[0][0].Max(), measured[1][0].Max()], not = [measured[2][0].Max(), measured[3][0].Max()];
                double threshold = recordMax / 2, wins = 0;
                foreach (double f in fire) foreach (double n in not) wins += f > n ? 1 : f == n ? 0.5 : 0;
                Assert.Equal(threshold, c.GenerationScore!.Threshold);
                Assert.Equal(fire.Count(v => v > threshold) / 2.0, c.GenerationScore.ShouldFireAbove);
                Assert.Equal(not.Count(v => v > threshold) / 2.0, c.GenerationScore.ShouldNotFireAbove);
                Assert.Equal(wins / 4, c.GenerationScore.Auroc);
            }
            Assert.Equal(Revised(FakeNeuronModel.TargetOf(layer, neuron)), results.ScoredExplanations[Array.FindIndex(candidates, c => c.Name == "revision 1")].Explanation);

            var line = scoreLines.Single(l => l.GetProperty("layer").GetInt32() == layer && l.GetProperty("neuron").GetInt32() == neuron);
            Assert.Equal(candidates[0].Name, line.GetProperty("best_candidate").GetString());
            Assert.Equal(results.ScoredExplanations[0].Explanation, line.GetProperty("explanation").GetString());
            int first = Array.FindIndex(candidates, c => c.Order == 0);
            Assert.Equal(results.ScoredExplanations[first].Explanation, line.GetProperty("first_explanation").GetString());
            Assert.Equal(results.ScoredExplanations[first].ScoredSimulation.EvCorrelationScore, line.GetProperty("first_ev_correlation_score").GetDouble());
            Assert.Equal(candidates[0].GenerationScore!.Auroc, line.GetProperty("generation_auroc").GetDouble());
        }

        // A rerun makes no call; engine score over the results writes the same scores.jsonl.
        int before = server.RequestCount;
        var again = await Task.Run(() => EngineProcess.Run(Environment(), RunArgs(server, _dir["out"])));
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Equal(before, server.RequestCount);
        var score = await Task.Run(() => EngineProcess.Run(Environment(), "score", "--explanations", _dir["out/explanations"], "--out", _dir["rescored"], "--device", "cpu"));
        Assert.True(score.ExitCode == 0, score.StdErr);
        Assert.Equal(File.ReadAllText(_dir["out/scores.jsonl"]), File.ReadAllText(_dir["rescored/scores.jsonl"]));
    }

    [Fact]
    public async Task MaxCallsStopsAtTheExactCountAndTheRerunFinishesWithoutAskingTwice()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => Script(r);
        var stopped = await Task.Run(() => EngineProcess.Run(Environment(), RunArgs(server, _dir["budget"], "--max-calls", "6", "--concurrency", "1")));
        Assert.True(stopped.ExitCode == 3, stopped.StdErr + stopped.StdOut);
        Assert.Equal(6, server.RequestCount);
        var finished = await Task.Run(() => EngineProcess.Run(Environment(), RunArgs(server, _dir["budget"])));
        Assert.True(finished.ExitCode == 0, finished.StdErr);
        Assert.Equal(Neurons.Length * CallsPerNeuron, server.RequestCount);
        Assert.Equal(Neurons.Length, File.ReadAllLines(_dir["budget/scores.jsonl"]).Length);
    }

    [Fact]
    public async Task AReplyWithoutTextsFailsThatStepAndTheNeuronKeepsItsOriginal()
    {
        await using var server = await FakeLlmServer.StartAsync();
        string doomed = $"the word \"{FakeNeuronModel.TargetOf(0, 2).Trim()}\"";
        server.Script = r => Script(r, r => r.SystemText == RevisionPrompt.TextsSystemMessage && r.LastUserText.Contains(doomed, StringComparison.Ordinal)
            ? new FakeLlmReply.Completion("I would rather not write texts.") : null);
        var run = await Task.Run(() => EngineProcess.Run(Environment(), RunArgs(server, _dir["fail"])));
        Assert.True(run.ExitCode == 1, run.StdErr + run.StdOut);
        var failure = JsonDocument.Parse(Assert.Single(File.ReadAllLines(_dir["fail/failures.jsonl"]))).RootElement;
        Assert.Equal((0, 2, "revise"), (failure.GetProperty("layer").GetInt32(), failure.GetProperty("neuron").GetInt32(), failure.GetProperty("stage").GetString()));
        Assert.Equal("original: the explainer's reply holds no usable test texts", failure.GetProperty("reason").GetString());
        var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(_dir["fail/explanations"], 0, 2)).Results!;
        var kept = Assert.Single(results.ScoredExplanations);
        Assert.Equal($"{doomed}.", kept.Explanation);
        var line = File.ReadAllLines(_dir["fail/scores.jsonl"]).Select(l => JsonDocument.Parse(l).RootElement)
            .Single(l => l.GetProperty("neuron").GetInt32() == 2 && l.GetProperty("layer").GetInt32() == 0);
        Assert.Equal(JsonValueKind.Null, line.GetProperty("generation_auroc").ValueKind);
        Assert.Equal(2, SimulationResultsFile.Read(SimulationResultsFile.PathFor(_dir["fail/explanations"], 0, 1)).Results!.ScoredExplanations.Length);
    }

    [Fact]
    public async Task AModelOtherThanTheRecordsOneIsRefusedNamingBoth()
    {
        var settings = new RecordsSettings
        {
            Model = "gpt2-trained", ModelFingerprint = "123:abc", Corpus = "c", CorpusFingerprint = "", Device = "cpu", NeuronsPerLayer = _config.DMlp,
            Layers = [0, 1], SeqLen = 8, TopK = 8, Random = 6, QuantileSamples = 0, Seed = 0, TotalWindows = 10, PilotWindows = 10,
        };
        new RecordsManifest { Layout = "openai", Settings = settings, Windows = [], Complete = true }.Save(_dir["records"]);
        await using var server = await FakeLlmServer.StartAsync();
        var run = await Task.Run(() => EngineProcess.Run(Environment(), RunArgs(server, _dir["refused"])));
        Assert.Equal(2, run.ExitCode);
        Assert.Matches(@"^error: --model model \(fingerprint [^)]+\) is not the model the records came from: .*records\.json names gpt2-trained \(fingerprint 123:abc\)$", run.StdErr.Trim());
        Assert.Equal(0, server.RequestCount);
    }
}
