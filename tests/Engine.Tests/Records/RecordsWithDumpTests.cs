using NeuronEngine.Cli;
using NeuronEngine.Dump;
using NeuronEngine.Records;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Records;

/// <summary>
/// `engine records --dump-out`: records and dump shards in one forward pass (shard writes on a background thread;
/// on ILGPU devices through a staging buffer, a second stream and page-locked buffers) equal the two separate runs,
/// and a run killed mid-dump or after a records checkpoint resumes to the same records and shards.
/// </summary>
public class RecordsWithDumpTests(RecordsFixture f) : IClassFixture<RecordsFixture>
{
    private static void AssertSameShards(string expectedDir, string actualDir)
    {
        var expected = DumpManifest.TryLoad(expectedDir)!;
        var actual = DumpManifest.TryLoad(actualDir)!;
        Assert.True(actual.Complete);
        Assert.Equal(expected.Shards, actual.Shards);
        foreach (var s in expected.Shards)
            Assert.Equal(File.ReadAllBytes(Path.Combine(expectedDir, s.File)), File.ReadAllBytes(Path.Combine(actualDir, s.File)));
    }

    private static void AssertSameRecords(string expectedDir, string actualDir)
    {
        var (_, expected, expectedTokens) = RecordsOutput.ReadPacked(expectedDir);
        var (_, actual, actualTokens) = RecordsOutput.ReadPacked(actualDir);
        Assert.Equal(expectedTokens.Keys.Order(), actualTokens.Keys.Order());
        for (int i = 0; i < expected.Count; i++)
        {
            foreach (var (a, b) in new[] { (expected[i].Top, actual[i].Top), (expected[i].Random, actual[i].Random), (expected[i].Quantile, actual[i].Quantile) })
            {
                Assert.Equal(a.Keys, b.Keys);
                Assert.Equal(a.Activations, b.Activations);
            }
            Assert.Equal(expected[i].Boundaries, actual[i].Boundaries);
            Assert.Equal(expected[i].Moments, actual[i].Moments); // same values in the same order: bit for bit
        }
    }

    [Theory]
    [InlineData("cpu", 1000, "0,2")]
    [InlineData("ilgpu-cpu", 8, "0")] // the CPU accelerator emulates every GPU thread: keep it tiny
    public void OnePassEqualsSeparateDumpAndRecords(string device, int maxWindows, string layers)
    {
        string tag = device + "-";
        string[] common = ["--device", device, "--layers", layers, "--max-windows", $"{maxWindows}", "--batch", "4"];
        Assert.Equal(0, EngineCli.Run(["dump", "--model", f.Model, "--corpus", f.Corpus, "--out", f.Dir[tag + "dump"], "--seq-len", $"{RecordsFixture.SeqLen}",
            "--windows-per-shard", "5", .. common]));
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(f.Dir[tag + "records"], ["--format", "packed", .. common])));
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(f.Dir[tag + "both"], ["--format", "packed", "--dump-out", f.Dir[tag + "both-dump"], "--windows-per-shard", "5", .. common])));
        AssertSameShards(f.Dir[tag + "dump"], f.Dir[tag + "both-dump"]);
        AssertSameRecords(f.Dir[tag + "records"], f.Dir[tag + "both"]);
    }

    [Fact]
    public void KilledOnePassRunResumesTheDumpAndGivesTheSameRecords()
    {
        string[] args = [.. f.RecordsArgs(f.Dir["kd-records"], "--format", "packed", "--device", "cpu", "--batch", "3"), "--dump-out", f.Dir["kd-dump"], "--windows-per-shard", "20"];
        var killed = EngineProcess.Run(new Dictionary<string, string> { [EnvironmentHooks.KillAfterShardsVariable] = "2" }, args);
        Assert.NotEqual(0, killed.ExitCode);
        Assert.Equal(2, DumpManifest.TryLoad(f.Dir["kd-dump"])!.Shards.Count);
        Assert.False(RecordsManifest.TryLoad(f.Dir["kd-records"])!.Complete);

        var resumed = EngineProcess.Run(null, args);
        Assert.Equal(0, resumed.ExitCode);
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(f.Dir["kd-plain"], "--format", "packed", "--device", "cpu")));
        AssertSameRecords(f.Dir["kd-plain"], f.Dir["kd-records"]);
        var (_, states, _) = RecordsOutput.ReadPacked(f.Dir["kd-records"]);
        foreach (var s in states) f.AssertMatchesBruteForce(s, Enumerable.Range(0, f.BruteForce.Windows), 1e-9);
    }

    /// <summary>
    /// One pass, each sink resuming on its own terms: killed one batch after its second checkpoint, the records resume
    /// from that checkpoint while the dump resumes from its first missing shard (the pass starts at the earlier of the
    /// two and the records join at theirs), and both outputs equal an uninterrupted run's — dump shards byte for byte,
    /// records bit for bit.
    /// </summary>
    [Fact]
    public void KilledAfterACheckpointTheRecordsResumeFromItAndTheDumpFromItsShards()
    {
        string[] Args(string tag) => [.. f.RecordsArgs(f.Dir[tag + "-records"], "--format", "packed", "--device", "cpu", "--batch", "3",
            "--checkpoint-windows", "30"), "--dump-out", f.Dir[tag + "-dump"], "--windows-per-shard", "16"];
        Assert.Equal(0, EngineCli.Run(Args("kc-full")));
        var killed = EngineProcess.Run(new Dictionary<string, string> { [EnvironmentHooks.KillAfterCheckpointsVariable] = "2" }, Args("kc"));
        Assert.NotEqual(0, killed.ExitCode);
        long checkpoint = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(f.Dir["kc-records"], RecordsCheckpoint.FileName)))
            .RootElement.GetProperty("next_window").GetInt64();
        long dumped = DumpManifest.TryLoad(f.Dir["kc-dump"])!.Shards.Sum(x => (long)x.Windows);
        Assert.InRange(checkpoint, 50, 70);                 // two checkpoints of ≥ 30 windows
        Assert.InRange(dumped, checkpoint - 16, checkpoint - 1); // the dump lags: its shard in progress was lost

        var resumed = EngineProcess.Run(null, Args("kc"));
        Assert.True(resumed.ExitCode == 0, resumed.StdErr);
        Assert.Contains($"records: resumed from the checkpoint at window {checkpoint}", resumed.StdErr);
        AssertSameShards(f.Dir["kc-full-dump"], f.Dir["kc-dump"]);
        AssertSameRecords(f.Dir["kc-full-records"], f.Dir["kc-records"]);
    }

    [Fact]
    public void DumpOutWithShardIsRefused()
    {
        var r = EngineProcess.Run(null, f.RecordsArgs(f.Dir["ds"], "--device", "cpu", "--shard", "0/2", "--dump-out", f.Dir["ds-dump"]));
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains("--dump-out cannot be combined with --shard", r.StdErr);
    }
}
