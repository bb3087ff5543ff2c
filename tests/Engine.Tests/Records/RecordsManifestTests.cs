using System.Text.Json.Nodes;
using NeuronEngine.Records;
using NeuronEngine.Tests.Support;
using NeuronEngine.Pass;

namespace NeuronEngine.Tests.Records;

/// <summary>records.json: snake_case keys throughout (the derived shape block too), and files written before that still read.</summary>
public class RecordsManifestTests
{
    private static RecordsManifest Manifest() => new()
    {
        Layout = "packed",
        Settings = new RecordsSettings
        {
            Model = "m", ModelFingerprint = "1:ab", Corpus = "/c.txt", CorpusFingerprint = "2:cd", Device = "cpu", NeuronsPerLayer = 128,
            Layers = [0, 2], SeqLen = 8, TopK = 5, Random = 4, QuantileSamples = 3, Seed = 7, TotalWindows = 100, PilotWindows = 16,
        },
        Windows = [new WindowRange(0, 100)],
        Complete = true,
    };

    [Fact]
    public void EveryKeyIsSnakeCase()
    {
        using var dir = new TempDir();
        Manifest().Save(dir.Path);
        var json = JsonNode.Parse(File.ReadAllText(RecordsManifest.PathIn(dir.Path)))!;
        var shape = json["settings"]!["shape"]!.AsObject();
        Assert.Equal(["neurons", "seq_len", "top_k", "random", "quantile_samples", "seed"], shape.Select(p => p.Key));
        Assert.Equal(5, (int)shape["top_k"]!);
        var keys = new List<string>();
        void Walk(JsonNode? n)
        {
            if (n is JsonObject o) foreach (var (k, v) in o) { keys.Add(k); Walk(v); }
            if (n is JsonArray a) foreach (var v in a) Walk(v);
        }
        Walk(json);
        Assert.All(keys, k => Assert.Matches("^[a-z0-9_]+$", k));
    }

    [Fact]
    public void AFileWithTheOldPascalCaseShapeBlockStillReads()
    {
        using var dir = new TempDir();
        Manifest().Save(dir.Path);
        string path = RecordsManifest.PathIn(dir.Path);
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        var settings = json["settings"]!.AsObject();
        settings.Remove("shape");
        settings["Shape"] = JsonNode.Parse("""{"Neurons":128,"SeqLen":8,"TopK":5,"RandomCount":4,"PerBand":3,"Seed":7}""");
        File.WriteAllText(path, json.ToJsonString());

        var read = RecordsManifest.TryLoad(dir.Path)!;
        Assert.Null(read.Settings.FirstDifference(Manifest().Settings));
        Assert.Equal(Manifest().Settings.Shape, read.Settings.Shape);
    }
}
