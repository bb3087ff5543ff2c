using System.Text.Json.Nodes;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Scoring;

/// <summary>`engine score` end to end: OpenAI-layout files with wrong stored scores are rescored and summarised.</summary>
public class ScoreCommandTests
{
    [Theory]
    [InlineData("cpu", true)]
    [InlineData("ilgpu-cpu", true)]
    [InlineData("cpu", false)] // the direct scan of the files: the same hand values
    public void RescoresSummarisesAndListsFailures(string device, bool writeResults)
    {
        using var dir = new TempDir();
        string input = dir["explanations"], output = dir["out"];
        SimulationResultsFile.Write(SimulationResultsFile.PathFor(input, 0, 5), SimulationResultsFixtures.HandCheckable(0, 5, storedScore: 0.5));
        SimulationResultsFile.Write(SimulationResultsFile.PathFor(input, 2, 1), SimulationResultsFixtures.Neuron(2, 1, " perfect",
            [SimulationResultsFixtures.Sequence([0, 1, 2], [0, 2, 4]), SimulationResultsFixtures.Sequence([3, 0, 1], [6, 0, 2])], storedScore: -1));
        Directory.CreateDirectory(Path.Combine(input, "2"));
        File.WriteAllText(Path.Combine(input, "2", "7.jsonl"), "{not json\n");

        string[] args = ["score", "--explanations", input, "--out", output, "--device", device];
        var r = EngineProcess.Run(null, writeResults ? [.. args, "--write-results"] : args);
        Assert.True(r.ExitCode == 1, r.StdErr); // one file failed: exit code 1, the rest still scored
        var lines = File.ReadAllLines(Path.Combine(output, "scores.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal([(0, 5), (2, 1)], lines.Select(l => ((int)l["layer"]!, (int)l["neuron"]!)));
        Assert.Equal(0.99014, (double)lines[0]["ev_correlation_score"]!, 5);
        Assert.Equal(-10.5634, (double)lines[0]["rsquared_score"]!, 4);
        Assert.Equal(-1.92308, (double)lines[0]["absolute_dev_explained_score"]!, 5);
        Assert.Null(lines[0]["random_only_ev_correlation_score"]); // the random record's simulation is constant
        Assert.Equal(1.0, (double)lines[1]["ev_correlation_score"]!, 9);

        if (writeResults)
        {
            var rescored = SimulationResultsFile.Read(SimulationResultsFile.PathFor(Path.Combine(output, "explanations"), 0, 5)).Results!;
            Assert.Equal(0.99014, rescored.ScoredExplanations[0].ScoredSimulation.EvCorrelationScore!.Value, 5);
        }
        else Assert.False(Directory.Exists(Path.Combine(output, "explanations")));
        Assert.Contains("scored 2 neurons", r.StdOut);
        Assert.Contains("≥ 0.8: 2", r.StdOut);
        Assert.Contains("layer   2", r.StdOut);
        Assert.Contains("7.jsonl", r.StdErr);
        Assert.Contains("7.jsonl", File.ReadAllText(Path.Combine(output, "failures.jsonl")));
        var png = File.ReadAllBytes(Path.Combine(output, "score-histogram.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
    }

    [Fact]
    public void MissingDirectoryIsOneLine()
    {
        using var dir = new TempDir();
        var r = EngineProcess.Run(null, "score", "--explanations", dir["absent"], "--out", dir["out"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("absent", r.StdErr);
    }
}
