using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Scoring;

/// <summary>The strict loader refuses what OpenAI's refuses, and `score` writes only what it accepts.</summary>
public class OpenAiStrictLoaderTests
{
    [Theory]
    [InlineData("\"absolute_dev_explained_score\":-1.5e-07}]", "\"absolute_dev_explained_score\":-1.5e-07,\"record_source\":\"top\"}]", "unexpected keyword argument 'record_source'")]
    [InlineData("{\"dataclass_name\":\"NeuronId\",", "{", "no dataclass_name")]
    [InlineData(",\"activation_scale\":\"simulated_normalized_activations\"", "", "missing required argument 'activation_scale'")]
    [InlineData("\"NeuronId\"", "\"NeuronIdentifier\"", "unknown dataclass NeuronIdentifier")]
    public void ItRefusesWhatOpenAisLoaderRefuses(string find, string replace, string reason)
    {
        using var dir = new TempDir();
        Assert.Contains(find, SimulationResultsFixtures.OpenAiStyleLine);
        string path = dir.WriteText("0.jsonl", SimulationResultsFixtures.OpenAiStyleLine.Replace(find, replace) + "\n");
        Assert.Contains(reason, Assert.Throws<InvalidDataException>(() => OpenAiStrictLoader.LoadResultsFile(path)).Message);
        OpenAiStrictLoader.LoadResultsFile(dir.WriteText("1.jsonl", SimulationResultsFixtures.OpenAiStyleLine + "\n"));
    }

    [Fact]
    public void ScoreWritesOpenAisFieldsOnlyEvenFromAFileWithExtraKeys()
    {
        using var dir = new TempDir();
        // An earlier engine version put record_source / record_index / failed_sequences into the objects.
        string legacy = SimulationResultsFile.Serialize(SimulationResultsFixtures.HandCheckable(3, 17))
            .Replace("\"ev_correlation_score\":0.123,", "\"ev_correlation_score\":0.123,\"record_source\":\"top\",\"record_index\":2,")
            .Replace("\"scored_sequence_simulations\":[", "\"failed_sequences\":[],\"scored_sequence_simulations\":[");
        Directory.CreateDirectory(dir["in/3"]);
        File.WriteAllText(dir["in/3/17.jsonl"], legacy + "\n");
        Assert.Throws<InvalidDataException>(() => OpenAiStrictLoader.LoadResultsFile(dir["in/3/17.jsonl"]));

        var summary = new ScoreRunner(new CpuBatchScorer()).Run(dir["in"], dir["out"]);
        Assert.Empty(summary.Failures);
        OpenAiStrictLoader.LoadResultsFile(dir["out/explanations/3/17.jsonl"]);
        Assert.DoesNotContain("record_", File.ReadAllText(dir["out/explanations/3/17.jsonl"]));
    }

    [Fact]
    public void TheSidecarIsNotCountedAsANeuronByOpenAisLayerListing()
    {
        // OpenAI's get_sorted_neuron_indices_from_explanations keeps files whose name up to the first "." is numeric.
        string name = Path.GetFileName(SimulationSidecarFile.PathFor("x", 3, 17));
        Assert.Equal("17-sidecar.json", name);
        Assert.False(name.Split('.')[0].All(char.IsAsciiDigit));
        Assert.Equal(SimulationSidecarFile.PathFor("x", 3, 17), SimulationSidecarFile.PathBeside(SimulationResultsFile.PathFor("x", 3, 17)));
    }
}
