using NeuronEngine.Cli;
using NeuronEngine.Records;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;
using NeuronEngine.Numerics;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Records;

/// <summary>`engine records` / `engine merge` on the cpu device against brute force over a full dump of the same corpus.</summary>
public class RecordsCommandTests(RecordsFixture f) : IClassFixture<RecordsFixture>
{
    private IEnumerable<int> AllWindows => Enumerable.Range(0, f.BruteForce.Windows);

    [Fact]
    public void PackedRecordsEqualBruteForceOverTheDump()
    {
        string outDir = f.Dir["packed-" + Guid.NewGuid().ToString("N")];
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(outDir, "--format", "packed", "--device", "cpu", "--batch", "5")));
        var (manifest, states, tokens) = RecordsOutput.ReadPacked(outDir);
        Assert.True(manifest.Complete);
        Assert.True(f.BruteForce.Windows > 60, "the corpus should hold enough windows to fill the bands");
        Assert.Equal([0, 2], states.Select(s => s.Layer));
        foreach (var s in states) f.AssertMatchesBruteForce(s, AllWindows, 1e-9);
        // The token table holds exactly the referenced windows, with the corpus' ids.
        var referenced = states.SelectMany(OpenAiRecords.Windows).ToHashSet();
        Assert.Equal(referenced.Order(), tokens.Keys.Order());
        using var windows = NeuronEngine.Corpus.CorpusReader.Open(f.Corpus, RecordsFixture.SeqLen, 64, Gpt2Tokenizer.VocabSize);
        foreach (var (w, ids) in tokens) Assert.Equal(windows.Window(w), ids);
    }

    [Fact]
    public void OpenAiRecordsRoundTripAndAgreeWithPacked()
    {
        string packed = f.Dir["rt-packed"], openai = f.Dir["rt-openai"];
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(packed, "--format", "packed", "--device", "cpu")));
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(openai, "--format", "openai", "--device", "cpu")));
        var (_, states, tokens) = RecordsOutput.ReadPacked(packed);
        var files = NeuronRecordFile.Enumerate(openai);
        Assert.Equal(2 * 128, files.Count);
        var tokenizer = Gpt2Tokenizer.Load();
        foreach (var s in states)
            foreach (int n in new[] { 0, 17, 127 })
            {
                string path = NeuronRecordFile.PathFor(openai, s.Layer, n);
                var read = NeuronRecordFile.Read(path);
                var expected = OpenAiRecords.ToNeuronRecord(s, n, tokens, tokenizer);
                Assert.Equal(NeuronRecordFile.Serialize(expected), NeuronRecordFile.Serialize(read));
                Assert.Equal(NeuronRecordFile.Serialize(read), File.ReadAllText(path));
                Assert.StartsWith("{\"dataclass_name\":\"NeuronRecord\",\"neuron_id\":{\"dataclass_name\":\"NeuronId\"", File.ReadAllText(path));
                Assert.Equal(5, read.MostPositiveActivationRecords.Length);
                Assert.Equal(4, read.RandomSample.Length);
                Assert.Equal(5, read.RandomSampleByQuantile.Length);
                Assert.Equal(4, read.QuantileBoundaries.Length);
                var top = read.MostPositiveActivationRecords[0];
                int w = (int)RecordKeys.Window(s.Top.Keys[n * s.Top.Capacity + s.Top.Sorted(n)[0]]);
                Assert.Equal(tokens[w].Select(tokenizer.DisplayToken), top.Tokens);
                Assert.Equal(f.BruteForce.WindowActivations(s.Layer, w, n).Select(v => (double)v), top.Activations);
            }
    }

    [Fact]
    public void NaNStatisticsAreWrittenAsNull()
    {
        var shape = new RecordShape(1, 2, 1, 0, 0, 0);
        var state = new LayerRecordState(0, shape); // no windows seen: every statistic is NaN
        var json = NeuronRecordFile.Serialize(OpenAiRecords.ToNeuronRecord(state, 0, new Dictionary<long, int[]>(), Gpt2Tokenizer.Load()));
        Assert.Contains("\"mean\":null,\"variance\":null,\"skewness\":null,\"kurtosis\":null", json);
        Assert.True(double.IsNaN(NeuronRecordFile.Deserialize(json).Kurtosis));
    }

    [Fact]
    public void MergeOfThreeShardsEqualsOneRun()
    {
        string whole = f.Dir["m-whole"];
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(whole, "--format", "packed", "--device", "cpu")));
        var shards = Enumerable.Range(0, 3).Select(i => f.Dir[$"m-shard{i}"]).ToArray();
        for (int i = 0; i < 3; i++)
            Assert.Equal(0, EngineCli.Run(f.RecordsArgs(shards[i], "--format", "packed", "--device", "cpu", "--shard", $"{i}/3", "--batch", "3")));
        // Each shard alone equals brute force over its third of the windows.
        var (m1, s1, _) = RecordsOutput.ReadPacked(shards[1]);
        var range = m1.Windows.Single();
        Assert.Equal(ShardSpec.Parse("1/3").Range(f.BruteForce.Windows), range);
        f.AssertMatchesBruteForce(s1[1], Enumerable.Range((int)range.First, (int)(range.End - range.First)), 1e-9);

        Assert.Equal(0, EngineCli.Run(["merge", "--inputs", shards[2], shards[0], shards[1], "--out", f.Dir["m-merged"], "--format", "packed"]));
        RecordsAssert.PackedEqual(whole, f.Dir["m-merged"], 1e-9);
        // Merging into OpenAI's layout gives the same JSON as a one-pass run straight to it (moments up to rounding).
        Assert.Equal(0, EngineCli.Run(["merge", "--inputs", .. shards, "--out", f.Dir["m-openai"]]));
        var one = NeuronRecordFile.Read(NeuronRecordFile.PathFor(f.Dir["m-openai"], 2, 3));
        Assert.Equal(5, one.MostPositiveActivationRecords.Length);
    }

    [Fact]
    public void KilledRunRestartsToTheRecordsOfAnUninterruptedRun()
    {
        var full = EngineProcess.Run(null, f.RecordsArgs(f.Dir["k-full"], "--device", "cpu", "--layers", "1"));
        Assert.Equal(0, full.ExitCode);
        var killed = EngineProcess.Run(new Dictionary<string, string> { [EnvironmentHooks.KillAfterRecordFilesVariable] = "40" },
            f.RecordsArgs(f.Dir["k-resumed"], "--device", "cpu", "--layers", "1"));
        Assert.NotEqual(0, killed.ExitCode);
        Assert.False(RecordsManifest.TryLoad(f.Dir["k-resumed"])!.Complete);
        int partial = Directory.EnumerateFiles(f.Dir["k-resumed"], "*.json", SearchOption.AllDirectories).Count(p => !p.EndsWith(RecordsManifest.FileName));
        Assert.InRange(partial, 40, 127); // killed mid-write (files are written in parallel, so a few more may have landed)

        var rerun = EngineProcess.Run(null, f.RecordsArgs(f.Dir["k-resumed"], "--device", "cpu", "--layers", "1"));
        Assert.Equal(0, rerun.ExitCode);
        Assert.True(RecordsManifest.TryLoad(f.Dir["k-resumed"])!.Complete);
        var expected = Directory.EnumerateFiles(f.Dir["k-full"], "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(f.Dir["k-full"], p)).Order().ToArray();
        Assert.Equal(expected, Directory.EnumerateFiles(f.Dir["k-resumed"], "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(f.Dir["k-resumed"], p)).Order());
        foreach (var rel in expected.Where(p => p != RecordsManifest.FileName))
            Assert.Equal(File.ReadAllBytes(Path.Combine(f.Dir["k-full"], rel)), File.ReadAllBytes(Path.Combine(f.Dir["k-resumed"], rel)));

        var again = EngineProcess.Run(null, f.RecordsArgs(f.Dir["k-resumed"], "--device", "cpu", "--layers", "1"));
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("nothing to do", again.StdErr);
    }

    [Fact]
    public void KilledRunResumesFromItsCheckpointToTheSameRecords()
    {
        string[] Args(string dir) => f.RecordsArgs(dir, "--device", "cpu", "--format", "packed", "--batch", "4", "--checkpoint-windows", "20");
        Assert.Equal(0, EngineCli.Run(Args(f.Dir["c-full"])));
        Assert.Empty(Directory.EnumerateFileSystemEntries(f.Dir["c-full"], "checkpoint*")); // removed once complete

        var killed = EngineProcess.Run(new Dictionary<string, string> { [EnvironmentHooks.KillAfterCheckpointsVariable] = "2" }, Args(f.Dir["c-resumed"]));
        Assert.NotEqual(0, killed.ExitCode);
        Assert.True(File.Exists(Path.Combine(f.Dir["c-resumed"], RecordsCheckpoint.FileName)));
        Assert.False(RecordsManifest.TryLoad(f.Dir["c-resumed"])!.Complete);

        var resumed = EngineProcess.Run(null, Args(f.Dir["c-resumed"]));
        Assert.Equal(0, resumed.ExitCode);
        Assert.Contains("resumed from the checkpoint at window 40", resumed.StdErr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(f.Dir["c-resumed"], "checkpoint*"));
        var (_, expected, expectedTokens) = RecordsOutput.ReadPacked(f.Dir["c-full"]);
        var (_, actual, actualTokens) = RecordsOutput.ReadPacked(f.Dir["c-resumed"]);
        Assert.Equal(expectedTokens.Keys.Order(), actualTokens.Keys.Order());
        for (int i = 0; i < expected.Count; i++)
        {
            foreach (var (a, b) in new[] { (expected[i].Top, actual[i].Top), (expected[i].Random, actual[i].Random), (expected[i].Quantile, actual[i].Quantile) })
            {
                Assert.Equal(a.Keys, b.Keys);
                Assert.Equal(a.Activations, b.Activations);
            }
            Assert.Equal(expected[i].Moments, actual[i].Moments); // the same sequential sums: bit for bit
        }
    }

    [Theory]
    [InlineData("--shard", "3/3", "not i/N", true)]
    [InlineData("--format", "xml", "'xml' is not one of openai, packed", true)]
    [InlineData("--top-k", "-1", "must be at least 0", true)]
    [InlineData("--top-k", "1001", "limited to 1000 windows", false)]
    [InlineData("--layers", "5", "outside the model's layers 0-2", false)]
    public void BadInputIsOneClearLine(string option, string value, string message, bool parseError)
    {
        var r = EngineProcess.Run(null, "records", "--model", f.Model, "--corpus", f.Corpus, "--out", f.Dir["bad"], "--device", "cpu", option, value);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(parseError ? ["see `engine records --help`"] : [], lines[1..]);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(message, lines[0]);
    }

    [Fact]
    public void MergeRefusesOpenAiInputsAndOverlappingShards()
    {
        string openai = f.Dir["x-openai"], a = f.Dir["x-a"];
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(openai, "--device", "cpu", "--layers", "0", "--max-windows", "6")));
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(a, "--device", "cpu", "--layers", "0", "--format", "packed", "--max-windows", "6")));
        var r = EngineProcess.Run(null, "merge", "--inputs", openai, "--out", f.Dir["x-out"]);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains("merge needs --format packed inputs", r.StdErr);
        r = EngineProcess.Run(null, "merge", "--inputs", a, a, "--out", f.Dir["x-out2"]);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains("overlap", r.StdErr);

        string otherSeed = f.Dir["x-seed"];
        Assert.Equal(0, EngineCli.Run([.. f.RecordsArgs(otherSeed, "--device", "cpu", "--layers", "0", "--format", "packed", "--max-windows", "6")
            .Select(x => x == "7" ? "8" : x)])); // --seed 8
        r = EngineProcess.Run(null, "merge", "--inputs", a, otherSeed, "--out", f.Dir["x-out3"]);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains($"records made with other settings than {a} (seed 8 in {otherSeed} vs 7 in {a})", r.StdErr);

        // A damaged layer file: one line naming the file.
        string layerFile = Path.Combine(a, PackedRecordsFile.FileName(0));
        File.WriteAllBytes(layerFile, File.ReadAllBytes(layerFile)[..1000]);
        r = EngineProcess.Run(null, "merge", "--inputs", a, "--out", f.Dir["x-out4"]);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Single(r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("layer-0.safetensors", r.StdErr);
    }
}
