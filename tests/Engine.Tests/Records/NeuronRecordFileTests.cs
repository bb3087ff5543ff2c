using NeuronEngine.Explain;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Explain;
using NeuronEngine.Tests.Support;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Records;

/// <summary>OpenAI's NeuronRecord JSON: exact layout, round trip, errors that name the file; neuron selection.</summary>
public class NeuronRecordFileTests
{
    [Fact]
    public void WritesOpenAisLayoutAndRoundTrips()
    {
        using var dir = new TempDir();
        var record = new NeuronRecord
        {
            NeuronId = new NeuronId { LayerIndex = 3, NeuronIndex = 17 },
            RandomSample = [new ActivationRecord { Tokens = [" é", "\n"], Activations = [0.5, double.NaN] }],
            RandomSampleByQuantile = [[new ActivationRecord { Tokens = ["a"], Activations = [1] }], []],
            QuantileBoundaries = [0, 0.5, 1],
            Mean = 0.25, Variance = 1.5, Skewness = double.NaN, Kurtosis = 3,
            MostPositiveActivationRecords = [new ActivationRecord { Tokens = ["x", "y"], Activations = [2, -1] }],
        };
        string path = NeuronRecordFile.PathFor(dir.Path, 3, 17);
        NeuronRecordFile.Write(path, record);
        Assert.Equal(Path.Combine(dir.Path, "3", "17.json"), path);
        string json = File.ReadAllText(path);
        Assert.Equal(
            "{\"dataclass_name\":\"NeuronRecord\",\"neuron_id\":{\"dataclass_name\":\"NeuronId\",\"layer_index\":3,\"neuron_index\":17},"
            + "\"random_sample\":[{\"dataclass_name\":\"ActivationRecord\",\"tokens\":[\" é\",\"\\n\"],\"activations\":[0.5,null]}],"
            + "\"random_sample_by_quantile\":[[{\"dataclass_name\":\"ActivationRecord\",\"tokens\":[\"a\"],\"activations\":[1]}],[]],"
            + "\"quantile_boundaries\":[0,0.5,1],\"mean\":0.25,\"variance\":1.5,\"skewness\":null,\"kurtosis\":3,"
            + "\"most_positive_activation_records\":[{\"dataclass_name\":\"ActivationRecord\",\"tokens\":[\"x\",\"y\"],\"activations\":[2,-1]}]}",
            json);
        var back = NeuronRecordFile.Read(path);
        Assert.Equal(json, NeuronRecordFile.Serialize(back));
        Assert.True(double.IsNaN(back.Skewness) && double.IsNaN(back.RandomSample[0].Activations[1]));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temp file left
    }

    [Fact]
    public void BadFilesNameTheFileAndTheProblem()
    {
        using var dir = new TempDir();
        string bad = dir.WriteText("bad.json", "{\"dataclass_name\":\"NeuronRecord\",");
        Assert.Contains("bad.json: malformed NeuronRecord JSON", Assert.Throws<InvalidDataException>(() => NeuronRecordFile.Read(bad)).Message);
        string mismatch = dir.WriteText("m.json", "{\"neuron_id\":{\"layer_index\":0,\"neuron_index\":0},\"most_positive_activation_records\":[{\"tokens\":[\"a\",\"b\"],\"activations\":[1]}]}");
        Assert.Contains("m.json: most_positive_activation_records[0] has 2 tokens but 1 activations", Assert.Throws<InvalidDataException>(() => NeuronRecordFile.Read(mismatch)).Message);
        Assert.Contains("not found", Assert.Throws<InvalidDataException>(() => NeuronRecordFile.Read(dir["absent.json"])).Message);
        Assert.Throws<DirectoryNotFoundException>(() => NeuronRecordFile.Enumerate(dir["absent"]));
        Assert.Contains("no {layer}/{neuron}.json", Assert.Throws<InvalidDataException>(() => NeuronRecordFile.Enumerate(dir.Path)).Message);
    }

    [Fact]
    public void SelectionByLayerNeuronAndSeededSample()
    {
        using var dir = new TempDir();
        var all = Enumerable.Range(0, 3).SelectMany(l => Enumerable.Range(0, 12).Select(n => (l, n))).ToArray();
        FakeNeuronModel.WriteRecords(dir.Path, all);
        Directory.CreateDirectory(dir["notes"]);
        var found = NeuronRecordFile.Enumerate(dir.Path);
        Assert.Equal(all, found.Select(f => (f.Layer, f.Neuron))); // sorted numerically: 10 after 9

        Assert.Equal([(1, 2), (1, 3), (1, 4), (1, 10), (2, 2), (2, 3), (2, 4), (2, 10)],
            new NeuronSelection("1-2", "2-4,10").Apply(found).Select(f => (f.Layer, f.Neuron)));
        var a = new NeuronSelection(Sample: 5, Seed: 7).Apply(found);
        Assert.Equal(5, a.Count);
        Assert.Equal(a, new NeuronSelection(Sample: 5, Seed: 7).Apply(found));
        Assert.NotEqual(a, new NeuronSelection(Sample: 5, Seed: 8).Apply(found));
        Assert.Contains("no neuron records match", Assert.Throws<ArgumentException>(() => new NeuronSelection("7").Apply(found)).Message);
        Assert.Contains("--neurons: 'x'", Assert.Throws<ArgumentException>(() => new NeuronSelection(Neurons: "x").Apply(found)).Message);
    }
}
