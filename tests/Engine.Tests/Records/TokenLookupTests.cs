using System.Text.Json;
using NeuronEngine.Cli;
using NeuronEngine.Records;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;

namespace NeuronEngine.Tests.Records;

/// <summary>
/// `engine records --token-lookup K`: OpenAI's TokenLookupTableSummaryOfNeuron per neuron against a brute force over the
/// fixture's `engine dump`, the min-count filter, ties, a killed run resumed from its checkpoint, refused reruns and
/// shards, and the memory refusal.
/// </summary>
public class TokenLookupTests(RecordsFixture f) : IClassFixture<RecordsFixture>
{
    private static readonly Gpt2Tokenizer Tokenizer = Gpt2Tokenizer.Load();

    /// <summary>Every neuron's file of <paramref name="layer"/> equals the brute force: same tokens in order, averages ≤ 1e-9 relative.</summary>
    internal static void AssertMatchesBruteForce(string recordsDir, BruteForceRecords bf, int layer, int k, int minCount, int windows)
    {
        for (int n = 0; n < bf.Neurons; n++)
        {
            var (ids, averages) = bf.TokenLookup(layer, n, k, minCount, Enumerable.Range(0, windows));
            var file = TokenLookupFiles.TryRead(recordsDir, layer, n) ?? throw new Xunit.Sdk.XunitException($"no token-lookup file for {layer}/{n}");
            Assert.Equal(ids.Select(Tokenizer.DisplayToken), file.Tokens);
            Assert.Equal(averages.Length, file.AverageActivations.Length);
            for (int i = 0; i < averages.Length; i++) RecordsFixture.AssertClose(averages[i], file.AverageActivations[i], 1e-9, $"average {i} of {layer}/{n}");
        }
    }

    [Fact]
    public void TokenListsEqualBruteForceOverTheDump()
    {
        string outDir = f.Dir["tl-" + Guid.NewGuid().ToString("N")];
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(outDir, "--format", "packed", "--device", "cpu", "--batch", "7", "--token-lookup", "6", "--token-lookup-min-count", "3")));
        var manifest = RecordsManifest.TryLoad(outDir)!;
        Assert.True(manifest.Complete);
        Assert.Equal((6, 3), (manifest.Settings.TokenLookup, manifest.Settings.TokenLookupMinCount));
        foreach (int layer in new[] { 0, 2 }) AssertMatchesBruteForce(outDir, f.BruteForce, layer, 6, 3, f.BruteForce.Windows);
        string json = File.ReadAllText(TokenLookupFiles.PathFor(outDir, 2, 5));
        Assert.StartsWith("{\"dataclass_name\":\"TokenLookupTableSummaryOfNeuron\",\"tokens\":[", json);
        Assert.Contains("],\"average_activations\":[", json);
        Assert.False(Directory.Exists(TokenLookupFiles.Folder(outDir) + "/1")); // only the requested layers

        // The filter matters here: without it rare tokens (numbers seen once or twice) enter some lists.
        var all = Enumerable.Range(0, f.BruteForce.Windows);
        Assert.Contains(Enumerable.Range(0, 128), n => !f.BruteForce.TokenLookup(2, n, 6, 1, all).Tokens.SequenceEqual(f.BruteForce.TokenLookup(2, n, 6, 3, all).Tokens));
    }

    [Fact]
    public void RareTokensAreLeftOutAndTiesGoToTheLowerTokenId()
    {
        var c = new TokenLookupCollector([3], neurons: 2, vocab: 10);
        // Two windows of 4 tokens. Neuron 0: token 7 and token 2 both average 0.5 (a tie), token 9 (seen once) 5.0,
        // token 4 averages 0.25. Neuron 1 is −neuron 0.
        int[] tokens = [7, 2, 9, 4, 2, 7, 4, 4];
        float[] n0 = [0.25f, 1f, 5f, 0.5f, 0f, 0.75f, 0f, 0.25f];
        c.BeginBatch(0, 1, tokens.AsSpan(0, 4));
        c.OnMlpActivations(3, 0, 1, 4, Interleave(n0[..4]));
        c.OnMlpActivations(1, 0, 1, 4, new float[8]); // a layer not collected is ignored
        c.BeginBatch(1, 1, tokens.AsSpan(4, 4));
        c.OnMlpActivations(3, 1, 1, 4, Interleave(n0[4..]));
        Assert.Equal((2, 3, 1), (c.Count(7), c.Count(4), c.Count(9)));
        AssertTop([2, 7, 4], [0.5, 0.5, 0.25], c.Top(3, 0, 3, minCount: 2));
        AssertTop([9, 2], [5.0, 0.5], c.Top(3, 0, 2, minCount: 1));
        AssertTop([4, 2, 7], [-0.25, -0.5, -0.5], c.Top(3, 1, 5, minCount: 2));
        Assert.Empty(c.Top(3, 0, 3, minCount: 4).Tokens);

        // The saved state restores to the same lists.
        using var dir = new TempDir();
        c.Save(dir["state.safetensors"]);
        var restored = new TokenLookupCollector([3], 2, 10);
        restored.Restore(dir["state.safetensors"]);
        var (ids, averages) = c.Top(3, 1, 5, 1);
        AssertTop(ids, averages, restored.Top(3, 1, 5, 1));
        Assert.Equal(5.0, restored.Sum(3, 0, 9));

        static float[] Interleave(float[] neuron0) => neuron0.SelectMany(v => new[] { v, -v }).ToArray();
        static void AssertTop(int[] ids, double[] averages, (int[] Tokens, double[] Averages) actual)
        {
            Assert.Equal(ids, actual.Tokens);
            Assert.Equal(averages, actual.Averages);
        }
    }

    [Fact]
    public void KilledRunResumesFromItsCheckpointToByteIdenticalLists()
    {
        string[] Args(string dir) => f.RecordsArgs(dir, "--device", "cpu", "--format", "packed", "--batch", "4", "--checkpoint-windows", "20",
            "--layers", "2", "--token-lookup", "5", "--token-lookup-min-count", "2");
        Assert.Equal(0, EngineCli.Run(Args(f.Dir["tlc-full"])));
        var killed = EngineProcess.Run(new Dictionary<string, string> { [EnvironmentHooks.KillAfterCheckpointsVariable] = "2" }, Args(f.Dir["tlc-resumed"]));
        Assert.NotEqual(0, killed.ExitCode);
        Assert.Single(Directory.EnumerateFiles(f.Dir["tlc-resumed"], TokenLookupFiles.StateFileName, SearchOption.AllDirectories));
        Assert.False(Directory.Exists(TokenLookupFiles.Folder(f.Dir["tlc-resumed"])));

        var resumed = EngineProcess.Run(null, Args(f.Dir["tlc-resumed"]));
        Assert.Equal(0, resumed.ExitCode);
        Assert.Contains("resumed from the checkpoint at window 40", resumed.StdErr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(f.Dir["tlc-resumed"], "checkpoint*"));
        var files = Directory.EnumerateFiles(TokenLookupFiles.Folder(f.Dir["tlc-full"]), "*.json", SearchOption.AllDirectories).ToList();
        Assert.Equal(128, files.Count);
        foreach (var path in files)
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(Path.Combine(f.Dir["tlc-resumed"], Path.GetRelativePath(f.Dir["tlc-full"], path))));
        AssertMatchesBruteForce(f.Dir["tlc-resumed"], f.BruteForce, 2, 5, 2, f.BruteForce.Windows);
    }

    [Fact]
    public void ARerunWithAnotherSettingIsRefusedAndOldManifestsReadAsOff()
    {
        string dir = f.Dir["tl-rerun"];
        string[] Args(params string[] more) => f.RecordsArgs(dir, ["--device", "cpu", "--layers", "0", "--max-windows", "6", .. more]);
        Assert.Equal(0, EngineCli.Run(Args("--token-lookup", "3")));
        var r = EngineProcess.Run(null, Args("--token-lookup", "4"));
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains("other settings (token-lookup 3 there vs 4 now)", r.StdErr);
        r = EngineProcess.Run(null, Args());
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains("token-lookup 3 there vs 0 now", r.StdErr);
        r = EngineProcess.Run(null, Args("--token-lookup", "3", "--token-lookup-min-count", "2"));
        Assert.Contains($"token-lookup-min-count {TokenLookupFiles.DefaultMinCount} there vs 2 now", r.StdErr);

        // Off: nothing about the lookup is written, and a manifest without the keys reads as off.
        string off = f.Dir["tl-off"];
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(off, "--device", "cpu", "--layers", "0", "--max-windows", "6")));
        string text = File.ReadAllText(RecordsManifest.PathIn(off));
        Assert.DoesNotContain("token_lookup", text);
        Assert.False(Directory.Exists(TokenLookupFiles.Folder(off)));
        var settings = JsonSerializer.Deserialize<RecordsManifest>(text)!.Settings;
        Assert.Equal((0, (int?)null), (settings.TokenLookup, settings.TokenLookupMinCount));
    }

    [Fact]
    public void ShardsAndMergeRefuseTheLookup()
    {
        var r = EngineProcess.Run(null, f.RecordsArgs(f.Dir["tl-shard"], "--device", "cpu", "--shard", "0/2", "--token-lookup", "3"));
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Equal("error: --token-lookup cannot be combined with --shard (engine merge does not merge the token-lookup sums); run the token lookup unsharded", r.StdErr.Trim());
        string whole = f.Dir["tl-merge-in"];
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(whole, "--device", "cpu", "--layers", "0", "--max-windows", "6", "--format", "packed", "--token-lookup", "3")));
        r = EngineProcess.Run(null, "merge", "--inputs", whole, "--out", f.Dir["tl-merge-out"]);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains("records made with --token-lookup, which merge does not carry", r.StdErr);
    }

    [Fact]
    public void TheMemoryEstimateRefusesWhatWouldNotFitInOneLine()
    {
        // gpt2-xl, all 48 layers, a large corpus (every token seen): 48 × 6400 × 50257 × 8 bytes of sums.
        long xl = TokenLookupCollector.RequiredBytes(48, 6400, 50257, 1L << 30);
        Assert.Equal(48L * 6400 * 50257 * 8 + 50257L * 12 + 50257L * 4, xl);
        Assert.Equal(128L * 100 * 8 + 100 * 12 + 50257L * 4, TokenLookupCollector.RequiredBytes(1, 128, 50257, 100)); // bounded by the positions
        var e = Assert.Throws<ArgumentException>(() => TokenLookupCollector.RequireMemory(48, 6400, 50257, 1L << 30, 64_000_000_000));
        Assert.Equal("--token-lookup: the sums of 48 layer(s) × 6400 neurons × up to 50257 tokens need 123.5 GB but only 64.0 GB of memory is available; " +
            "collect fewer --layers per run (several runs into separate --out directories)", e.Message);
        TokenLookupCollector.RequireMemory(12, 3072, 50257, 1L << 30, 16_000_000_000); // gpt2 small: 14.8 GB fits 16 GB

        // A run checks before it writes anything (here against a pretended 1 MB of memory).
        using var weights = NeuronEngine.Model.Gpt2Weights.Open(f.Model);
        using var device = new NeuronEngine.Cpu.CpuDevice(weights);
        using var windows = NeuronEngine.Corpus.CorpusReader.Open(f.Corpus, RecordsFixture.SeqLen, 64, Gpt2Tokenizer.VocabSize);
        var settings = new RecordsSettings
        {
            Model = "m", ModelFingerprint = "m", Corpus = "c", CorpusFingerprint = "c", Device = "cpu", NeuronsPerLayer = 128, Layers = [0, 2],
            SeqLen = RecordsFixture.SeqLen, TopK = 1, Random = 0, QuantileSamples = 0, Seed = 0, TotalWindows = windows.Count, PilotWindows = 1,
            TokenLookup = 3, TokenLookupMinCount = 1,
        };
        string outDir = f.Dir["tl-memory"];
        var run = new RecordsRun(device, windows, settings, "packed", ShardSpec.Whole, outDir) { AvailableMemoryBytes = 1_000_000 };
        e = Assert.Throws<ArgumentException>(() => run.Run());
        Assert.StartsWith("--token-lookup: the sums of 2 layer(s) × 128 neurons × up to ", e.Message);
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any());
        Assert.True(new RecordsRun(device, windows, settings, "packed", ShardSpec.Whole, outDir).Run()); // the machine's memory is enough
    }
}
