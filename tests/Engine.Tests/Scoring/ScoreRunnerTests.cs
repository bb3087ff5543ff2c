using System.Text.Json;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using Xunit;
using NeuronEngine.Tests.Support;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Scoring;

public sealed class ScoreRunnerTests : IDisposable
{
    private readonly TempDir _temp = new();
    private string _root => _temp.Path;
    private string InputDir => Path.Combine(_root, "in");
    private string OutputDir => Path.Combine(_root, "out");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void WrongStoredScoresAreRecomputedInScoresJsonlAndRescoredFiles()
    {
        // Stored scores are deliberately wrong (0.999 everywhere); files are laid out out of order.
        Write(SimulationResultsFixtures.HandCheckable(10, 3, storedScore: 0.999));
        var perfect = SimulationResultsFixtures.Neuron(2, 7, " perfect",
            [SimulationResultsFixtures.Sequence([0, 1, 4], [0, 2, 8]), SimulationResultsFixtures.Sequence([2, 0], [4, 0])],
            storedScore: -0.5);
        Write(perfect);

        var summary = new ScoreRunner(new CpuBatchScorer(), new ScoreRunOptions { FilesPerChunk = 1 }).Run(InputDir, OutputDir);

        Assert.Empty(summary.Failures);
        var lines = ReadScoreLines();
        Assert.Equal([(2, 7), (10, 3)], lines.Select(l => (l.GetProperty("layer").GetInt32(), l.GetProperty("neuron").GetInt32())));
        Assert.Equal(
            ["layer", "neuron", "explanation", "ev_correlation_score", "rsquared_score", "absolute_dev_explained_score",
                "calibrated_rsquared_score", "calibrated_absolute_dev_explained_score", "top_only_ev_correlation_score", "random_only_ev_correlation_score"],
            lines[1].EnumerateObject().Select(p => p.Name));

        var hand = lines[1];
        Assert.Equal(" hand-checkable", hand.GetProperty("explanation").GetString());
        Assert.Equal(0.99014, hand.GetProperty("ev_correlation_score").GetDouble(), 1e-5);
        Assert.Equal(-10.56338, hand.GetProperty("rsquared_score").GetDouble(), 1e-5);
        Assert.Equal(-1.92308, hand.GetProperty("absolute_dev_explained_score").GetDouble(), 1e-5);
        Assert.Equal(0.99007, hand.GetProperty("top_only_ev_correlation_score").GetDouble(), 1e-5);
        Assert.Equal(JsonValueKind.Null, hand.GetProperty("random_only_ev_correlation_score").ValueKind);
        Assert.Equal(JsonValueKind.Null, hand.GetProperty("calibrated_rsquared_score").ValueKind); // no sidecar: no calibration simulations
        Assert.Equal(1.0, lines[0].GetProperty("ev_correlation_score").GetDouble(), 1e-12);

        var rescored = SimulationResultsFile.Read(SimulationResultsFile.PathFor(Path.Combine(OutputDir, "explanations"), 10, 3));
        Assert.True(rescored.Succeeded, rescored.FailureReason);
        var simulation = rescored.Results!.ScoredExplanations[0].ScoredSimulation;
        Assert.Equal(0.99014, simulation.EvCorrelationScore!.Value, 1e-5);
        Assert.Equal(-10.56338, simulation.RsquaredScore!.Value, 1e-5);
        Assert.Equal(-1.92308, simulation.AbsoluteDevExplainedScore!.Value, 1e-5);
        var first = simulation.ScoredSequenceSimulations[0];
        Assert.Equal(0.99007, first.EvCorrelationScore!.Value, 1e-5);
        Assert.Equal(-10.58824, first.RsquaredScore!.Value, 1e-5);
        Assert.Equal(-2.0, first.AbsoluteDevExplainedScore!.Value, 1e-6);
        var second = simulation.ScoredSequenceSimulations[1];
        Assert.Null(second.EvCorrelationScore);
        Assert.Equal(0.0, second.RsquaredScore!.Value, 1e-6);
        Assert.Equal(0.0, second.AbsoluteDevExplainedScore!.Value, 1e-6);
        // Everything but the scores is carried over unchanged.
        Assert.Equal(SimulationResultsFixtures.HandCheckable(10, 3).ScoredExplanations[0].ScoredSimulation
            .ScoredSequenceSimulations[0].Simulation.Tokens, first.Simulation.Tokens);
        Assert.Equal([0, 0.5, 2], first.TrueActivations);

        Assert.Equal(2, summary.NeuronCount);
        Assert.Equal((1.0 + 0.990141) / 2, summary.MeanScore!.Value, 1e-5);
        Assert.Equal(summary.MeanScore, summary.MedianScore);
        Assert.Equal(2, summary.ScoresAtLeast0Point8);
        Assert.Equal([2, 10], summary.LayerMeans.Select(m => m.Layer));
        Assert.Equal(0.99014, summary.LayerMeans[1].MeanScore!.Value, 1e-5);
    }

    [Fact]
    public void BadFilesAreListedAsFailuresWhileOtherNeuronsStillScore()
    {
        Write(SimulationResultsFixtures.HandCheckable(0, 0));
        WriteRaw(0, 1, "{\"dataclass_name\":\"NeuronSimulationResults\",\"neuron_id\":{"); // malformed line
        WriteRaw(0, 2, "{\"neuron_id\":{\"layer_index\":0,\"neuron_index\":2}}");        // missing field
        var unequal = SimulationResultsFixtures.HandCheckable(0, 3);
        var sequences = unequal.ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations;
        sequences[0] = sequences[0] with { TrueActivations = [1, 2] };                  // unequal lengths
        Write(unequal);
        Write(SimulationResultsFixtures.HandCheckable(1, 5), place: (1, 4));                // neuron_id disagrees
        Write(SimulationResultsFixtures.HandCheckable(1, 6));
        Directory.CreateDirectory(Path.Combine(InputDir, "notes"));                        // ignored folder

        var summary = new ScoreRunner(new CpuBatchScorer()).Run(InputDir, OutputDir);

        Assert.Equal([(0, 0), (1, 6)], ReadScoreLines().Select(l => (l.GetProperty("layer").GetInt32(), l.GetProperty("neuron").GetInt32())));
        Assert.Equal(2, summary.NeuronCount);
        var failures = summary.Failures.ToDictionary(f => Path.GetRelativePath(InputDir, f.Path), f => f.Reason);
        Assert.Equal(4, failures.Count);
        Assert.StartsWith("malformed JSON", failures[Path.Combine("0", "1.jsonl")]);
        Assert.Contains("scored_explanations", failures[Path.Combine("0", "2.jsonl")]);
        Assert.Contains("2 true activations", failures[Path.Combine("0", "3.jsonl")]);
        Assert.Contains("does not match", failures[Path.Combine("1", "4.jsonl")]);
        Assert.False(File.Exists(SimulationResultsFile.PathFor(Path.Combine(OutputDir, "explanations"), 0, 1)));
        Assert.True(File.Exists(SimulationResultsFile.PathFor(Path.Combine(OutputDir, "explanations"), 1, 6)));
    }

    [Fact]
    public void MissingDirectoryIsAFailureAndStillWritesAnEmptyScoresFile()
    {
        var summary = new ScoreRunner(new CpuBatchScorer()).Run(Path.Combine(_root, "absent"), OutputDir);
        var failure = Assert.Single(summary.Failures);
        Assert.Equal(Path.Combine(_root, "absent"), failure.Path);
        Assert.Equal(0, summary.NeuronCount);
        Assert.Null(summary.MeanScore);
        Assert.Equal("", File.ReadAllText(Path.Combine(OutputDir, "scores.jsonl")));
    }

    [Fact]
    public void UsesTheGivenBatchScorer()
    {
        Write(SimulationResultsFixtures.HandCheckable(0, 0));
        var scorer = new FixedScorer(new ScoreTriple(0.5, null, -2));
        new ScoreRunner(scorer).Run(InputDir, OutputDir);
        var line = Assert.Single(ReadScoreLines());
        Assert.Equal(0.5, line.GetProperty("ev_correlation_score").GetDouble());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("rsquared_score").ValueKind);
        Assert.Equal(2, scorer.Calls); // one batch of explanations, one of single sequences
    }

    [Fact]
    public void OddSequenceCountsCountTheMiddleSequenceAsTop()
    {
        Assert.Equal(0, SimulationScoring.TopSequenceCount(0));
        Assert.Equal(1, SimulationScoring.TopSequenceCount(1));
        Assert.Equal(5, SimulationScoring.TopSequenceCount(10));
        Assert.Equal(6, SimulationScoring.TopSequenceCount(11));
    }

    /// <summary>The sidecar of <see cref="SimulationResultsFixtures.HandCheckable"/>: top then random, and a calibration split.</summary>
    private static SimulationSidecar HandCheckableSidecar(int layer, int neuron, params RecordSource[] sources) => new()
    {
        Layer = layer,
        Neuron = neuron,
        ScoredExplanations =
        [
            new ExplanationSidecar
            {
                Explanation = " hand-checkable",
                Sequences = [.. sources.Select((s, i) => new SequenceOrigin { Source = s, Index = i })],
                // True = 0.5 · expected + 1 exactly: the fit is p' = 0.5·p + 1.
                CalibrationSequences =
                [
                    new CalibrationSequence { Source = RecordSource.Top, Index = 1, TrueActivations = [1, 2], ExpectedActivations = [0, 2] },
                    new CalibrationSequence { Source = RecordSource.Random, Index = 0, TrueActivations = [4], ExpectedActivations = [6] },
                ],
            },
        ],
    };

    [Fact]
    public void CalibratedScoresApplyTheLinearFitOnTheCalibrationSplitToTheScoredSequences()
    {
        Write(SimulationResultsFixtures.HandCheckable(0, 0));
        SimulationSidecarFile.Write(SimulationSidecarFile.PathFor(InputDir, 0, 0), HandCheckableSidecar(0, 0, RecordSource.Top, RecordSource.Random));

        var summary = new ScoreRunner(new CpuBatchScorer()).Run(InputDir, OutputDir);
        Assert.Empty(summary.Failures);
        var line = Assert.Single(ReadScoreLines());
        // Scored: top true [0, 0.5, 2] / expected [0, 1, 9] → calibrated [1, 1.5, 5.5]; random [0.1, 0, 0] / [0, 0, 0] → [1, 1, 1].
        // Squared errors 1 + 1 + 12.25 + 0.81 + 1 + 1 = 17.06 over Σt² = 4.26; absolute errors 1 + 1 + 3.5 + 0.9 + 1 + 1 = 8.4 over Σ|t| = 2.6.
        Assert.Equal(1 - 17.06 / 4.26, line.GetProperty("calibrated_rsquared_score").GetDouble(), 12);
        Assert.Equal(1 - 8.4 / 2.6, line.GetProperty("calibrated_absolute_dev_explained_score").GetDouble(), 12);
        Assert.Equal(-10.56338, line.GetProperty("rsquared_score").GetDouble(), 1e-5); // the uncalibrated scores are unchanged
        Assert.True(File.Exists(SimulationSidecarFile.PathFor(Path.Combine(OutputDir, "explanations"), 0, 0))); // carried along
    }

    [Fact]
    public void TheSidecarDecidesWhichSequencesAreTopAndMustBelongToItsResults()
    {
        Write(SimulationResultsFixtures.HandCheckable(0, 0));
        Write(SimulationResultsFixtures.HandCheckable(0, 1));
        Write(SimulationResultsFixtures.HandCheckable(0, 2));
        // Both sequences random (say, every top record failed): top-only is undefined, random-only is the whole.
        SimulationSidecarFile.Write(SimulationSidecarFile.PathFor(InputDir, 0, 0), HandCheckableSidecar(0, 0, RecordSource.Random, RecordSource.Random));
        SimulationSidecarFile.Write(SimulationSidecarFile.PathFor(InputDir, 0, 1), HandCheckableSidecar(0, 1, RecordSource.Top)); // one sequence listed, two in the file
        File.WriteAllText(SimulationSidecarFile.PathFor(InputDir, 0, 2), "{not json");

        var summary = new ScoreRunner(new CpuBatchScorer()).Run(InputDir, OutputDir);
        var line = Assert.Single(ReadScoreLines());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("top_only_ev_correlation_score").ValueKind);
        Assert.Equal(line.GetProperty("ev_correlation_score").GetDouble(), line.GetProperty("random_only_ev_correlation_score").GetDouble());
        Assert.Equal(2, summary.Failures.Count);
        Assert.Contains("does not belong to", summary.Failures[0].Reason);
        Assert.Contains("it lists 1 scored sequences, the results file 2", summary.Failures[0].Reason);
        Assert.Contains("malformed sidecar", summary.Failures[1].Reason);
    }

    /// <summary>Writes the results where their neuron_id says, unless another place is given.</summary>
    private void Write(NeuronSimulationResults results, (int Layer, int Neuron)? place = null)
    {
        var (layer, neuron) = place ?? (results.NeuronId.LayerIndex, results.NeuronId.NeuronIndex);
        SimulationResultsFile.Write(SimulationResultsFile.PathFor(InputDir, layer, neuron), results);
    }

    private void WriteRaw(int layer, int neuron, string content)
    {
        string path = SimulationResultsFile.PathFor(InputDir, layer, neuron);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content + "\n");
    }

    private List<JsonElement> ReadScoreLines() =>
        File.ReadAllLines(Path.Combine(OutputDir, "scores.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    private sealed class FixedScorer(ScoreTriple value) : IBatchScorer
    {
        public int Calls { get; private set; }

        public ScoreTriple[] Score(ScoringBatch batch)
        {
            Calls++;
            return Enumerable.Repeat(value, batch.NeuronCount * ScoringBatch.VariantsPerNeuron).ToArray();
        }
    }
}
