using System.Text.Json.Nodes;
using NeuronEngine.Cli;
using NeuronEngine.Connections;
using NeuronEngine.Records;
using NeuronEngine.Related;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;
using NeuronEngine.View;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.View;

/// <summary>The files `engine view` writes (docs/viewer.md), without a browser.</summary>
[Collection(ViewerCollection.Name)]
public class ViewSiteTests(ViewerSiteFixture f)
{
    /// <summary>The JSON inside a data script: NV.call({...});</summary>
    public static JsonNode ReadScript(string path, string call)
    {
        string text = File.ReadAllText(path);
        Assert.StartsWith(call + "(", text);
        Assert.EndsWith(");\n", text);
        return JsonNode.Parse(text[(call.Length + 1)..^3])!;
    }

    [Fact]
    public void TheSiteHasItsPagesAChunkPerLayerAndAFilePerNeuron()
    {
        foreach (string asset in new[] { "index.html", "neuron.html", "viewer.js", "index.js", "neuron.js", "viewer.css" })
            Assert.True(File.Exists(Path.Combine(f.Site, asset)), asset);
        var site = ReadScript(Path.Combine(f.Site, "data", "site.js"), "NV.site");
        Assert.Equal("Tiny test model", (string)site["title"]!);
        Assert.Equal(2 * ViewerSiteFixture.NeuronsPerLayer, (int)site["neurons"]!);
        Assert.Equal(ViewerSiteFixture.Explained.Length, (int)site["explained"]!);
        Assert.Equal("all", (string)site["default_layer"]!);
        Assert.Equal("openai", (string)site["related"]!["definition"]!);
        var layers = site["layers"]!.AsArray();
        Assert.Equal([0, 1], layers.Select(l => (int)l!["layer"]!));
        Assert.All(layers, l => Assert.Equal((0, 63, 64, 6), ((int)l!["first"]!, (int)l["last"]!, (int)l["neurons"]!, (int)l["explained"]!)));
        // The histograms count the neurons whose score is defined (a constant simulation has no correlation).
        foreach (var l in layers)
        {
            int layer = (int)l!["layer"]!;
            int defined = Enumerable.Range(0, 6).Count(n => SimulationResultsFile.Read(SimulationResultsFile.PathFor(Path.Combine(f.Results, "explanations"), layer, n))
                .Results!.ScoredExplanations[0].ScoredSimulation.EvCorrelationScore is double v && double.IsFinite(v));
            Assert.Equal(defined, l["hist"]!.AsArray().Sum(c => (int)c!));
        }

        for (int layer = 0; layer < 2; layer++)
        {
            var chunk = ReadScript(Path.Combine(f.Site, "data", "index", $"{layer}.js"), "NV.indexChunk");
            Assert.Equal(Enumerable.Range(0, 64), chunk["neuron"]!.AsArray().Select(n => (int)n!));
            var explanations = chunk["explanation"]!.AsArray();
            for (int n = 0; n < 64; n++)
            {
                var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(Path.Combine(f.Results, "explanations"), layer, n)).Results;
                Assert.Equal(results?.ScoredExplanations[0].Explanation, (string?)explanations[n]);
                Assert.True(File.Exists(SiteBuilder.NeuronScript(f.Site, layer, n)));
            }
        }
    }

    [Fact]
    public void ANeuronsDataHoldsItsRecordsExplanationScoresAndRelatedTokens()
    {
        var record = NeuronRecordFile.Read(NeuronRecordFile.PathFor(f.Records, 1, 2));
        var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(Path.Combine(f.Results, "explanations"), 1, 2)).Results!;
        var d = ReadScript(SiteBuilder.NeuronScript(f.Site, 1, 2), "NV.neuron");
        Assert.Equal((1, 2), ((int)d["layer"]!, (int)d["neuron"]!));
        Assert.Equal([1, 1], d["prev"]!.AsArray().Select(x => (int)x!));
        Assert.Equal([1, 3], d["next"]!.AsArray().Select(x => (int)x!));
        var tokens = d["tokens"]!.AsArray().Select(t => (string)t!).ToArray();
        var stored = d["records"]!.AsArray();
        string[] Tokens(JsonNode r) => r["t"]!.AsArray().Select(i => tokens[(int)i!]).ToArray();
        double[] Values(JsonNode r, string name) => r[name]!.AsArray().Select(v => (double)v!).ToArray();
        var top = d["top"]!.AsArray().Select(i => stored[(int)i!]!).ToArray();
        Assert.Equal(record.MostPositiveActivationRecords.Length, top.Length);
        for (int i = 0; i < top.Length; i++)
        {
            Assert.Equal(record.MostPositiveActivationRecords[i].Tokens, Tokens(top[i]));
            Assert.Equal(record.MostPositiveActivationRecords[i].Activations.Select(a => double.Parse(a.ToString("G4"))), Values(top[i], "a"));
        }
        Assert.Equal(record.RandomSample.Length, d["random"]!.AsArray().Count);
        Assert.Equal(record.RandomSampleByQuantile.Select(b => b.Length), d["bands"]!.AsArray().Select(b => b!.AsArray().Count));
        // Records repeated across lists are stored once.
        int listed = record.MostPositiveActivationRecords.Length + record.RandomSample.Length + record.RandomSampleByQuantile.Sum(b => b.Length);
        Assert.True(stored.Count < listed, $"{stored.Count} stored records for {listed} listed");
        Assert.Equal(record.MostPositiveActivationRecords[0].Activations.Max(), (double)d["max"]!, 1e-5);
        Assert.Equal(double.Parse(record.Mean.ToString("G6")), (double)d["stats"]!["mean"]!);

        var e = d["explanations"]!.AsArray().Single()!;
        var expected = results.ScoredExplanations[0];
        Assert.Equal(expected.Explanation, (string)e["text"]!);
        Assert.Equal(double.Parse(expected.ScoredSimulation.EvCorrelationScore!.Value.ToString("G6")), (double)e["ev"]!);
        var sequences = e["sequences"]!.AsArray();
        Assert.Equal(expected.ScoredSimulation.ScoredSequenceSimulations.Length, sequences.Count);
        Assert.Equal(["top", "top", "random", "random"], sequences.Select(s => (string)s!["source"]!));
        var s0 = expected.ScoredSimulation.ScoredSequenceSimulations[0];
        Assert.Equal(s0.Simulation.Tokens, Tokens(sequences[0]!));
        Assert.Equal(s0.Simulation.ExpectedActivations.Select(a => double.Parse(a.ToString("G4"))), Values(sequences[0]!, "sim"));
        Assert.Equal(10, (double)sequences[0]!["sim_max"]!);

        var related = RelatedFiles.ReadOpenAi(RelatedFiles.OpenAiPath(f.Related, 1, 2));
        Assert.Equal(related.OutputNegative.Tokens, d["related"]!["output_negative"]!["t"]!.AsArray().Select(t => (string)t!));
        Assert.Equal(related.OutputNegative.Strengths.Select(v => double.Parse(v.ToString("G4"))), d["related"]!["output_negative"]!["s"]!.AsArray().Select(v => (double)v!));
        var ablation = NeuronEngine.Ablation.AblationFiles.SummaryJson.Read(NeuronEngine.Ablation.AblationFiles.OpenAiPath(f.Ablation, 1, 2));
        Assert.Equal("mean", (string)d["ablation"]!["kind"]!);
        Assert.Equal(double.Parse(ablation.DeltaLoss.ToString("G6")), (double)d["ablation"]!["delta_loss"]!);
        Assert.Equal(ablation.PromotedTokens.Tokens, d["ablation"]!["promoted"]!["t"]!.AsArray().Select(t => (string)t!));
        Assert.Equal(4, ablation.SuppressedTokens.Tokens.Length);
        var lookup = TokenLookupFiles.TryRead(f.Records, 1, 2)!;
        Assert.Equal(5, lookup.Tokens.Length);
        Assert.Equal(lookup.Tokens, d["lookup"]!["t"]!.AsArray().Select(t => (string)t!));
        Assert.Equal(lookup.AverageActivations.Select(v => double.Parse(v.ToString("G4"))), d["lookup"]!["a"]!.AsArray().Select(v => (double)v!));
    }

    /// <summary>
    /// `--connections`: site.js says so, and each neuron's data/{layer}/{neuron}.connections.js holds its four lists as
    /// `engine connections` wrote them, with the explanation and score of each connected neuron the site explains.
    /// </summary>
    [Fact]
    public void ANeuronsConnectionsFileHoldsItsListsWithTheConnectedNeuronsExplanations()
    {
        var site = ReadScript(Path.Combine(f.Site, "data", "site.js"), "NV.site");
        Assert.Equal(ViewerSiteFixture.ConnectionsTop, (int)site["connections"]!["top"]!);
        Assert.Equal(2, (int)site["connections"]!["model_layers"]!);
        var explained = ViewerSiteFixture.Explained.ToDictionary(x => x, x => SimulationResultsFile.Read(
            SimulationResultsFile.PathFor(Path.Combine(f.Results, "explanations"), x.Layer, x.Neuron)).Results!.ScoredExplanations[0]);
        int withExplanation = 0;
        var (layer0, layer1) = (ConnectionsFiles.ReadPacked(Path.Combine(f.Connections, ConnectionsFiles.PackedFileName(0))),
            ConnectionsFiles.ReadPacked(Path.Combine(f.Connections, ConnectionsFiles.PackedFileName(1))));
        foreach (var (layer, neuron) in new[] { 0, 1 }.SelectMany(l => Enumerable.Range(0, ViewerSiteFixture.NeuronsPerLayer).Select(n => (l, n))))
        {
            var lists = layer == 0 ? layer0 : layer1;
            var d = ReadScript(NeuronEngine.View.ConnectionsPages.PathFor(f.Site, layer, neuron), "NV.connections");
            Assert.Equal((layer, neuron), ((int)d["layer"]!, (int)d["neuron"]!));
            foreach (var list in Enum.GetValues<ConnectionList>())
            {
                var expected = lists.Of(list, neuron).ToArray();
                var entries = d[ConnectionsLayer.ListNames[(int)list]]!.AsArray();
                Assert.Equal(expected.Select(c => (c.Layer, c.Neuron, double.Parse(((double)c.Weight).ToString("G4")))),
                    entries.Select(e => ((int)e!["l"]!, (int)e["n"]!, (double)e["w"]!)));
                foreach (var e in entries)
                {
                    var key = ((int)e!["l"]!, (int)e["n"]!);
                    if (explained.TryGetValue(key, out var x))
                    {
                        withExplanation++;
                        Assert.Equal(x.Explanation, (string)e["e"]!);
                        Assert.Equal(x.ScoredSimulation.EvCorrelationScore is double v && double.IsFinite(v) ? double.Parse(v.ToString("G4")) : null, (double?)e["s"]);
                    }
                    else Assert.Null(e["e"]);
                }
            }
            // A 2-layer model: layer 0 has nothing upstream, layer 1 nothing downstream.
            Assert.Equal(layer == 0 ? 0 : ViewerSiteFixture.ConnectionsTop, d["upstream_negative"]!.AsArray().Count);
            Assert.Equal(layer == 1 ? 0 : ViewerSiteFixture.ConnectionsTop, d["downstream_positive"]!.AsArray().Count);
        }
        Assert.True(withExplanation > 0, "no connected neuron with an explanation: the test shows nothing");
    }

    [Fact]
    public void PackedRecordsAndOpenAiRelatedFilesGiveTheSamePages()
    {
        // The same records in the packed layout, and the related tokens read from the OpenAI files (no manifest: as
        // OpenAI's published related-tokens directory would be read): every neuron's data is byte-identical.
        using var dir = new TempDir();
        string openAiRelated = dir["related-openai"];
        foreach (var layer in new[] { 0, 1 })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(f.Related, $"{layer}")))
            {
                Directory.CreateDirectory(Path.Combine(openAiRelated, $"{layer}"));
                File.Copy(file, Path.Combine(openAiRelated, $"{layer}", Path.GetFileName(file)));
            }
        Assert.Equal(0, EngineCli.Run("view", "--records", f.PackedRecords, "--results", f.Results, "--related", openAiRelated, "--ablation", f.Ablation, "--out", dir["site"], "--title", "Tiny test model"));
        foreach (var (layer, neuron) in new[] { (0, 0), (0, 5), (0, 63), (1, 2), (1, 40) })
            Assert.Equal(File.ReadAllText(SiteBuilder.NeuronScript(f.Site, layer, neuron)), File.ReadAllText(SiteBuilder.NeuronScript(dir["site"], layer, neuron)));
        for (int layer = 0; layer < 2; layer++)
            Assert.Equal(File.ReadAllText(Path.Combine(f.Site, "data", "index", $"{layer}.js")), File.ReadAllText(Path.Combine(dir["site"], "data", "index", $"{layer}.js")));
        // Without related.json the definition is not known (the page says so).
        Assert.Null(ReadScript(Path.Combine(dir["site"], "data", "site.js"), "NV.site")["related"]!["definition"]);
    }

    [Fact]
    public void ABadOutOrMissingInputIsOneErrorLine()
    {
        using var dir = new TempDir();
        dir.WriteText("notes.txt", "mine");
        var r = EngineProcess.Run(null, "view", "--records", f.Records, "--out", dir.Path);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: --out {dir.Path}: the directory holds other files (notes.txt) and is not an earlier site; use a new --out", r.StdErr.Trim());
        var missing = EngineProcess.Run(null, "view", "--records", dir["absent"], "--out", dir["site"]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal($"error: --records {dir["absent"]}: no such directory", missing.StdErr.Trim());
        // An earlier site is rebuilt in place (its old data replaced).
        Assert.Equal(0, EngineCli.Run("view", "--records", f.Records, "--out", dir["site"]));
        File.WriteAllText(Path.Combine(dir["site"], "data", "stale.js"), "");
        var again = EngineProcess.Run(null, "view", "--records", f.Records, "--related", f.Related, "--out", dir["site"]);
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Contains("view: 128 neurons in 2 layer(s), 0 with explanations, 128 with related tokens", again.StdErr);
        Assert.False(File.Exists(Path.Combine(dir["site"], "data", "stale.js")));
    }
}
