using System.Text.Json;
using NeuronEngine.Scoring;
using Xunit;
using NeuronEngine.Tests.Support;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Scoring;

public sealed class SimulationResultsFileTests : IDisposable
{
    private readonly TempDir _temp = new();
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void ReadsOpenAiStyleLine()
    {
        var results = SimulationResultsFile.Deserialize(SimulationResultsFixtures.OpenAiStyleLine);
        Assert.Equal(3, results.NeuronId.LayerIndex);
        Assert.Equal(17, results.NeuronId.NeuronIndex);
        var explanation = Assert.Single(results.ScoredExplanations);
        Assert.Equal(" the word \"café\" and ☕", explanation.Explanation);
        var sequence = Assert.Single(explanation.ScoredSimulation.ScoredSequenceSimulations);
        Assert.Equal(["A", " caf", "é"], sequence.Simulation.Tokens);
        Assert.Equal(1.25, sequence.Simulation.ExpectedActivations[1]);
        Assert.True(double.IsNaN(sequence.Simulation.ExpectedActivations[2])); // null → NaN
        Assert.Equal("simulated_normalized_activations", sequence.Simulation.ActivationScale);
        Assert.Equal([1.0, 2.0], sequence.Simulation.DistributionValues![1]);
        Assert.Null(sequence.EvCorrelationScore);
        Assert.Equal(-1.5e-07, sequence.AbsoluteDevExplainedScore);
        Assert.Equal(0.25, explanation.ScoredSimulation.EvCorrelationScore);
        Assert.Null(sequence.Simulation.UncalibratedSimulation);
    }

    [Fact]
    public void OpenAiStyleLineRoundTripsToTheSameJson()
    {
        string written = SimulationResultsFile.Serialize(SimulationResultsFile.Deserialize(SimulationResultsFixtures.OpenAiStyleLine));
        Assert.True(JsonElement.DeepEquals(
            JsonDocument.Parse(SimulationResultsFixtures.OpenAiStyleLine).RootElement,
            JsonDocument.Parse(written).RootElement), written);
        Assert.DoesNotContain('\n', written);
        Assert.Contains("café", written); // non-ASCII written as UTF-8, as orjson does
    }

    [Fact]
    public void LoneSurrogateTokensSurviveTheRoundTrip()
    {
        // GPT-2's byte-level tokens can split a character; Python's json escapes the half as \ud83d.
        // The token is q, a quote, the lone high surrogate, a newline and a backslash, all JSON-escaped.
        string line = SimulationResultsFixtures.OpenAiStyleLine.Replace("[\"A\",", "[\"q\\\"\\ud83d\\n\\\\\",");
        var read = SimulationResultsFile.Deserialize(line);
        Assert.Equal("q\"\ud83d\n\\", read.ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations[0].Simulation.Tokens[0]);
        var again = SimulationResultsFile.Deserialize(SimulationResultsFile.Serialize(read));
        Assert.Equal("q\"\ud83d\n\\", again.ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations[0].Simulation.Tokens[0]);
    }

    [Fact]
    public void WriteThenReadGivesEqualResults()
    {
        var original = SimulationResultsFixtures.HandCheckable(2, 5, storedScore: double.NaN);
        string path = SimulationResultsFile.PathFor(_dir, 2, 5);
        SimulationResultsFile.Write(path, original);

        Assert.Equal(Path.Combine(_dir, "2", "5.jsonl"), path);
        string text = File.ReadAllText(path);
        Assert.EndsWith("\n", text);
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("\"ev_correlation_score\":null", text); // NaN written as null
        Assert.DoesNotContain("NaN", text);

        var read = SimulationResultsFile.Read(path);
        Assert.True(read.Succeeded, read.FailureReason);
        var sequence = read.Results!.ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations[1];
        Assert.Equal([0.1, 0, 0], sequence.TrueActivations);
        Assert.Equal([0.0, 0, 0], sequence.Simulation.ExpectedActivations);
        Assert.Equal(" tok2", sequence.Simulation.Tokens[2]);
        Assert.Null(read.Results.ScoredExplanations[0].ScoredSimulation.EvCorrelationScore);
        Assert.Equal(SimulationResultsFile.Serialize(original), SimulationResultsFile.Serialize(read.Results));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "2"), "*.tmp")); // the atomic write left no temp file
    }

    [Fact]
    public void NaNActivationsBecomeNullAndComeBackAsNaN()
    {
        var original = SimulationResultsFixtures.Neuron(0, 0, "x",
            [SimulationResultsFixtures.Sequence([1, double.NaN], [double.NaN, 2], storedScore: null)]);
        string json = SimulationResultsFile.Serialize(original);
        Assert.Contains("\"true_activations\":[1,null]", json);
        Assert.Contains("\"expected_activations\":[null,2]", json);
        var back = SimulationResultsFile.Deserialize(json).ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations[0];
        Assert.True(double.IsNaN(back.TrueActivations[1]));
        Assert.True(double.IsNaN(back.Simulation.ExpectedActivations[0]));
    }

    [Fact]
    public void DataclassNameIsTheFirstPropertyOfEveryObject()
    {
        string json = SimulationResultsFile.Serialize(SimulationResultsFixtures.HandCheckable(1, 2));
        int objects = 0;
        CheckDataclassNameFirst(JsonDocument.Parse(json).RootElement, ref objects);
        Assert.Equal(1 + 1 + 1 + 1 + 2 * 2, objects); // results, id, explanation, simulation, 2 × (scored seq + seq)
        Assert.StartsWith("{\"dataclass_name\":\"NeuronSimulationResults\",\"neuron_id\":{\"dataclass_name\":\"NeuronId\"", json);
    }

    [Theory]
    [InlineData("{\"dataclass_name\":\"NeuronSimulationResults\",\"neuron_id\":", "malformed JSON")]
    [InlineData("{\"dataclass_name\":\"NeuronSimulationResults\",\"neuron_id\":{\"layer_index\":0,\"neuron_index\":1}}", "scored_explanations")]
    [InlineData("{\"neuron_id\":{\"layer_index\":0,\"neuron_index\":1},\"scored_explanations\":null}", "malformed JSON")]
    [InlineData("null", "malformed JSON")]
    [InlineData("", "empty file")]
    [InlineData("{}\n{}", "expected one JSON line, found 2")]
    public void BadFilesBecomeFailuresNotExceptions(string content, string reasonFragment)
    {
        string path = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllText(path, content);
        var read = SimulationResultsFile.Read(path);
        Assert.False(read.Succeeded);
        Assert.Contains(reasonFragment, read.FailureReason);
        Assert.Equal(path, read.ToFailure().Path);
    }

    [Fact]
    public void UnequalTokenAndActivationLengthsAreAFailure()
    {
        var bad = SimulationResultsFixtures.HandCheckable(0, 0) with { };
        var sequence = bad.ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations[1];
        bad.ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations[1] = sequence with { TrueActivations = [0.1, 0] };
        string path = Path.Combine(_dir, "0.jsonl");
        SimulationResultsFile.Write(path, bad);
        var read = SimulationResultsFile.Read(path);
        Assert.False(read.Succeeded);
        Assert.Equal("explanation 0, sequence 1: 3 tokens, 3 expected activations, 2 true activations (lengths must match)",
            read.FailureReason);
    }

    [Fact]
    public void MissingFileIsAFailure()
    {
        var read = SimulationResultsFile.Read(Path.Combine(_dir, "9", "9.jsonl"));
        Assert.Equal("file not found", read.FailureReason);
    }

    private static void CheckDataclassNameFirst(JsonElement element, ref int objects)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            objects++;
            Assert.Equal("dataclass_name", element.EnumerateObject().First().Name);
            foreach (var property in element.EnumerateObject()) CheckDataclassNameFirst(property.Value, ref objects);
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray()) CheckDataclassNameFirst(item, ref objects);
        }
    }
}
