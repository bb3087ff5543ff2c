using System.Diagnostics;
using System.Text.Json.Nodes;
using NeuronEngine.Explain;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;
using static NeuronEngine.Tests.Explain.ExplainTestKit;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// `run` and `score` compute scores.jsonl the same way (one aggregation, in double), and every results file
/// either writes loads in OpenAI's loader (a strict mirror of fast_dataclasses, and Python's own dataclasses).
/// </summary>
public class RunScoreAgreementTests
{
    /// <summary>Fails a valid top record, a valid random one and a calibration record of every neuron (by their tokens).</summary>
    private static Func<FakeLlmRequest, FakeLlmReply> FailingSomeSequences()
    {
        var doomed = Neurons.SelectMany(n =>
        {
            var record = FakeNeuronModel.Record(n.Layer, n.Neuron);
            return new[] { record.MostPositiveActivationRecords[6], record.RandomSample[1], record.MostPositiveActivationRecords[5] };
        }).Select(r => string.Join("|", r.Tokens)).ToHashSet();
        return request =>
        {
            if (request.IsExplainer || !doomed.Contains(string.Join("|", FakeNeuronModel.Question(request.LastUserText).Tokens)))
                return FakeNeuronModel.Reply(request);
            return request.IsCompletion ? new FakeLlmReply.Echo([("no", []), ("thing", [])])
                : request.WantsJson ? new FakeLlmReply.Completion("{}")
                : new FakeLlmReply.Completion("?", [("?", 0, [("?", 0)])]);
        };
    }

    [Theory]
    [InlineData(SimulatorMode.Logprobs, false)]
    [InlineData(SimulatorMode.Logprobs, true)]
    [InlineData(SimulatorMode.Json, true)]
    [InlineData(SimulatorMode.Echo, false)]
    [InlineData(SimulatorMode.Echo, true)]
    public async Task RunsScoresJsonlEqualsScoreOverTheSameFilesEveryColumn(SimulatorMode mode, bool withFailedSequences)
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], Neurons);
        await using var server = await FakeLlmServer.StartAsync();
        if (withFailedSequences) server.Script = FailingSomeSequences();
        var (_, simulate) = await ExplainPipelineTests.RunAsync(server, dir.Path, dir["cache.sqlite"], mode);
        Assert.Equal(withFailedSequences ? 9 : 0, simulate.Failures.Count(f => f.Stage == "sequence"));

        var summary = new ScoreRunner(new CpuBatchScorer(), new ScoreRunOptions { FilesPerChunk = 2 }).Run(dir["out/explanations"], dir["rescored"]);
        Assert.Empty(summary.Failures);
        string run = File.ReadAllText(dir["out/scores.jsonl"]), score = File.ReadAllText(dir["rescored/scores.jsonl"]);
        Assert.Equal(run, score);
        var columns = JsonNode.Parse(run.Split('\n')[0])!.AsObject().Select(p => p.Key).ToArray();
        Assert.Equal(["layer", "neuron", "explanation", "ev_correlation_score", "rsquared_score", "absolute_dev_explained_score",
            "calibrated_rsquared_score", "calibrated_absolute_dev_explained_score", "top_only_ev_correlation_score", "random_only_ev_correlation_score"], columns);
        foreach (var line in run.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!))
        {
            Assert.NotNull(line["calibrated_rsquared_score"]);
            Assert.NotNull(line["top_only_ev_correlation_score"]);
        }
        if (withFailedSequences)
        {
            // One top and one random record failed: 1 top then 1 random left, which OpenAI's halves would also get right;
            // the sidecar is what says so, and the rescored files carry it along.
            var side = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(dir["rescored/explanations"], 0, 1))!.ScoredExplanations[0];
            Assert.Equal([RecordSource.Top, RecordSource.Random], side.Sequences.Select(s => s.Source));
            Assert.Equal(3, side.FailedSequences.Length);
            Assert.Equal(3, side.CalibrationSequences!.Length);
        }
        foreach (string file in Directory.EnumerateFiles(dir["out/explanations"], "*.jsonl", SearchOption.AllDirectories)
                     .Concat(Directory.EnumerateFiles(dir["rescored/explanations"], "*.jsonl", SearchOption.AllDirectories)))
            OpenAiStrictLoader.LoadResultsFile(file);
        CheckWithPython(dir["out/explanations"], dir["rescored/explanations"]);
    }

    [Fact]
    public async Task AFailedSequenceSplitsTopFromRandomByTheSidecarNotByHalves()
    {
        using var dir = new TempDir();
        FakeNeuronModel.WriteRecords(dir["records"], (0, 1));
        var record = FakeNeuronModel.Record(0, 1);
        string doomed = string.Join("|", record.RandomSample[1].Tokens); // the first valid random record: 2 top + 1 random left
        await using var server = await FakeLlmServer.StartAsync();
        server.Script = r => !r.IsExplainer && string.Join("|", FakeNeuronModel.Question(r.LastUserText).Tokens) == doomed
            ? new FakeLlmReply.Completion("{}") : FakeNeuronModel.Reply(r);
        await ExplainPipelineTests.RunAsync(server, dir.Path, dir["cache.sqlite"], SimulatorMode.Json);

        var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(dir["out/explanations"], 0, 1)).Results!;
        var sequences = results.ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations;
        Assert.Equal(3, sequences.Length);
        var top = ScoreCalculator.Score(sequences.Take(2).Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)));
        var line = JsonNode.Parse(File.ReadAllText(dir["out/scores.jsonl"]))!;
        Assert.Equal(top.EvCorrelation!.Value, (double)line["top_only_ev_correlation_score"]!, 12);

        // Without the sidecar the file reads as OpenAI's layout (the first half, middle included, top): the same here.
        // Move the sidecar to say the first sequence alone is top, and `score` follows it.
        string sidecarPath = SimulationSidecarFile.PathFor(dir["out/explanations"], 0, 1);
        var sidecar = SimulationSidecarFile.TryRead(sidecarPath)!;
        var origins = sidecar.ScoredExplanations[0].Sequences;
        SimulationSidecarFile.Write(sidecarPath, sidecar with
        {
            ScoredExplanations = [sidecar.ScoredExplanations[0] with { Sequences = [origins[0], origins[1] with { Source = RecordSource.Random }, origins[2]] }],
        });
        new ScoreRunner(new CpuBatchScorer()).Run(dir["out/explanations"], dir["rescored"]);
        var rescored = JsonNode.Parse(File.ReadAllText(dir["rescored/scores.jsonl"]))!;
        var firstOnly = ScoreCalculator.Score(sequences.Take(1).Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)));
        Assert.Equal(firstOnly.EvCorrelation!.Value, (double)rescored["top_only_ev_correlation_score"]!, 12);
    }

    /// <summary>
    /// Loads the files with Python's dataclasses the way fast_dataclasses.loads does
    /// (json.loads with an object hook calling cls(**fields)), for the real TypeError on an unexpected key. Without python3
    /// the test skips with the reason (fails under ENGINE_REQUIRE_PYTHON3=1, as in CI), after the C# checks have run.
    /// </summary>
    private static void CheckWithPython(params string[] directories)
    {
        string? python = RequiredTool.OnPath("python3");
        if (python is null) RequiredTool.Missing("python3", "no python3 on PATH to load the files the way OpenAI's fast_dataclasses.loads does");
        const string script = """
            import dataclasses, json, sys
            from typing import Any, Optional
            def dc(name, required, optional=()):
                return dataclasses.make_dataclass(name, [(f, Any) for f in required] + [(f, Optional[Any], dataclasses.field(default=None)) for f in optional])
            classes = {c.__name__: c for c in [
                dc("NeuronSimulationResults", ["neuron_id", "scored_explanations"]),
                dc("NeuronId", ["layer_index", "neuron_index"]),
                dc("ScoredExplanation", ["explanation", "scored_simulation"]),
                dc("ScoredSimulation", ["scored_sequence_simulations"], ["ev_correlation_score", "rsquared_score", "absolute_dev_explained_score"]),
                dc("ScoredSequenceSimulation", ["simulation", "true_activations", "ev_correlation_score"], ["rsquared_score", "absolute_dev_explained_score"]),
                dc("SequenceSimulation", ["tokens", "expected_activations", "activation_scale", "distribution_values", "distribution_probabilities"], ["uncalibrated_simulation"]),
            ]}
            def hook(d):
                name = d.pop("dataclass_name")
                return classes[name](**d)
            for path in sys.argv[1:]:
                lines = [l for l in open(path, encoding="utf-8").read().split("\n") if l]
                assert len(lines) == 1, path
                assert type(json.loads(lines[0], object_hook=hook)).__name__ == "NeuronSimulationResults", path
            """;
        var files = directories.SelectMany(d => Directory.EnumerateFiles(d, "*.jsonl", SearchOption.AllDirectories)).ToArray();
        var psi = new ProcessStartInfo(python) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (string f in files) psi.ArgumentList.Add(f);
        using var process = Process.Start(psi)!;
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, errors);
    }
}
