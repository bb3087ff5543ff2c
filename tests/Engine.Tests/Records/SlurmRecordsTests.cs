using System.Text.RegularExpressions;
using NeuronEngine.Cli;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Records;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;

namespace NeuronEngine.Tests.Records;

/// <summary>
/// A single-node Slurm cluster (<see cref="SlurmCluster"/>), a tiny synthetic GPT-2 (2 layers, d = 32), a corpus of
/// ~100 windows of 8 tokens, and that corpus' records from one plain `engine records` run in both layouts: what the
/// shipped scripts (scripts/slurm/, copied beside the test assembly) must reproduce through the cluster.
/// </summary>
public sealed class SlurmRecordsFixture : IDisposable
{
    public const int Shards = 3;

    /// <summary>The records options of every run, one plain or sharded: batches of 2, a checkpoint every 4 windows.</summary>
    public static readonly string[] RecordsOptions =
        ["--seq-len", "8", "--layers", "0,1", "--top-k", "5", "--random", "4", "--quantile-samples", "3", "--seed", "7",
         "--pilot-windows", "16", "--device", "cpu", "--batch", "2", "--checkpoint-windows", "4"];

    /// <summary>Why the cluster cannot run here (then nothing else is set up), or null.</summary>
    public string? SkipReason { get; } = SlurmCluster.Unavailable();
    public SlurmCluster? Cluster { get; }
    public TempDir Dir { get; } = new();
    public string Model => Dir["model"];
    public string Corpus => Dir["corpus.txt"];
    public string OneRunPacked => Dir["one-run-packed"];
    public string OneRunOpenAi => Dir["one-run-openai"];
    public long TotalWindows { get; }

    /// <summary>submit.sh and the two sbatch scripts, copied beside the test assembly (a GPU bundle has no source tree).</summary>
    public static string Scripts => Path.Combine(AppContext.BaseDirectory, "slurm");

    public SlurmRecordsFixture()
    {
        if (SkipReason is not null) return;
        try
        {
            SyntheticGpt2.Write(Model, new Gpt2Config(2, 2, 32, 64, Gpt2Tokenizer.VocabSize), new(Seed: 11, DType: TensorDType.F32));
            Dir.WriteText("corpus.txt", string.Join(" ", Enumerable.Range(0, 50).Select(i => $"Line {i}: the {i % 7} otters swam past {i * 13} boats and a quiet harbour.")));
            foreach (var (dir, format) in new[] { (OneRunPacked, "packed"), (OneRunOpenAi, "openai") })
                Assert.Equal(0, EngineCli.Run(["records", "--model", Model, "--corpus", Corpus, "--out", dir, "--format", format, .. RecordsOptions]));
            TotalWindows = RecordsManifest.TryLoad(OneRunPacked)!.Settings.TotalWindows;
            Cluster = new SlurmCluster();
        }
        catch
        {
            Dir.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            Cluster?.Dispose();
        }
        finally
        {
            Dir.Dispose();
        }
    }
}

/// <summary>
/// The scale-out path for real: scripts/slurm/submit.sh submits records-array.sbatch as a job array of 3 shards and
/// merge.sbatch after it on a real (single-node) Slurm; the merged records must equal one plain run's. Skipped, with
/// the reason, where Slurm cannot start (not root, not Linux, packages missing), unless ENGINE_REQUIRE_SLURM=1 (CI),
/// which turns that into a failure.
/// </summary>
public class SlurmRecordsTests(SlurmRecordsFixture f, ITestOutputHelper output) : IClassFixture<SlurmRecordsFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    private SlurmCluster Cluster()
    {
        if (f.SkipReason is { } reason) RequiredTool.Missing("slurm", reason);
        return f.Cluster!;
    }

    /// <summary>Runs `submit.sh MODEL CORPUS OUT 3 [sbatch options] -- records options` and returns the two job ids it prints.</summary>
    private (string Array, string Merge) Submit(SlurmCluster cluster, string outDir, Dictionary<string, string> environment, params string[] sbatchOptions)
    {
        environment.TryAdd("ENGINE", EngineProcess.AppHost);
        string[] args = [Path.Combine(SlurmRecordsFixture.Scripts, "submit.sh"), f.Model, f.Corpus, outDir, $"{SlurmRecordsFixture.Shards}",
            .. sbatchOptions, "--", .. SlurmRecordsFixture.RecordsOptions];
        var r = cluster.Client(environment, "bash", args);
        output.WriteLine($"submit.sh {string.Join(' ', sbatchOptions)} → exit {r.ExitCode}\n{r.StdOut}{r.StdErr}");
        Assert.True(r.ExitCode == 0, $"submit.sh exited with {r.ExitCode}: {r.StdErr}");
        var array = Regex.Match(r.StdOut, @"^records array job (\d+):", RegexOptions.Multiline);
        var merge = Regex.Match(r.StdOut, @"^merge job (\d+): after every shard succeeds \(afterok:(\d+)\)", RegexOptions.Multiline);
        Assert.True(array.Success && merge.Success, $"submit.sh did not print both job ids:\n{r.StdOut}");
        Assert.Equal(array.Groups[1].Value, merge.Groups[2].Value);
        return (array.Groups[1].Value, merge.Groups[1].Value);
    }

    private static string Log(string outDir, string name) => File.ReadAllText(Path.Combine(outDir, "logs", name));

    [Fact]
    public void ArrayOfThreeShardsThenMergeEqualsOneRun()
    {
        var cluster = Cluster();
        string outDir = f.Dir["scale-out"];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // sbatch options reach the array only; the merge gets MERGE_SBATCH_OPTIONS.
        var (array, merge) = Submit(cluster, outDir, new() { ["MERGE_SBATCH_OPTIONS"] = "--time=5 --comment=merge-options" }, "--time=10");

        var tasks = cluster.WaitForArray(array, SlurmRecordsFixture.Shards, Deadline);
        var merged = cluster.WaitForJob(merge, Deadline);
        output.WriteLine($"array and merge done in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.All(tasks, t => Assert.Equal(("COMPLETED", "0:0"), (t.State, t.ExitCode)));
        Assert.Equal(("COMPLETED", "0:0"), (merged.State, merged.ExitCode));
        Assert.All(tasks, t => Assert.Equal("00:10:00", t.Field("TimeLimit")));
        Assert.Equal(("00:05:00", "merge-options"), (merged.Field("TimeLimit"), merged.Field("Comment")));
        // The merge ran after the last shard had ended (Slurm's times are in seconds).
        Assert.True(string.CompareOrdinal(merged.Field("StartTime"), tasks.Max(t => t.Field("EndTime"))) >= 0,
            $"merge started {merged.Field("StartTime")}, before the last shard ended ({string.Join(", ", tasks.Select(t => t.Field("EndTime")))})");

        for (int i = 0; i < SlurmRecordsFixture.Shards; i++)
        {
            var range = ShardSpec.Parse($"{i}/{SlurmRecordsFixture.Shards}").Range(f.TotalWindows);
            string log = Log(outDir, $"records-{array}_{i}.log");
            Assert.Contains($"records: shard {i}/{SlurmRecordsFixture.Shards} of array job {array}", log);
            Assert.Contains($"records: windows {range.First}-{range.End - 1} of {f.TotalWindows}", log);
        }
        Assert.Contains($"merge: windows 0-{f.TotalWindows - 1} of {f.TotalWindows}", Log(outDir, $"merge-{merge}.log"));
        RecordsAssert.OpenAiEqual(f.OneRunOpenAi, Path.Combine(outDir, "records"), 1e-9);
    }

    [Fact]
    public void ShardKilledMidRunAndResubmittedResumesAndMergesToOneRun()
    {
        var cluster = Cluster();
        string outDir = f.Dir["killed"];
        Directory.CreateDirectory(outDir);
        // Shard 1's first attempt holds after its first checkpoint (a shard that takes long), until scancel kills it.
        string engine = f.Dir.WriteText("engine-holding-shard-1.sh", $"""
            #!/bin/sh
            if [ "$SLURM_ARRAY_TASK_ID" = 1 ] && mkdir "{outDir}/held-once" 2>/dev/null; then
              export {EnvironmentHooks.HoldAfterCheckpointsVariable}=1
            fi
            exec "{EngineProcess.AppHost}" "$@"

            """);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException(); // (Cluster() skipped already)
        File.SetUnixFileMode(engine, (UnixFileMode)0b111_101_101);
        var environment = new Dictionary<string, string> { ["ENGINE"] = engine, ["MERGE_FORMAT"] = "packed" };
        var (array, merge) = Submit(cluster, outDir, environment);

        string shard1 = Path.Combine(outDir, "shard-1");
        cluster.WaitFor("shard 1 to hold after its first checkpoint", Deadline, () =>
            File.Exists(Path.Combine(shard1, RecordsCheckpoint.FileName)) && cluster.Jobs(array).Any(t => t is { ArrayTaskId: "1", State: "RUNNING" }) ? "" : null);
        var cancel = cluster.Client("scancel", $"{array}_1");
        Assert.True(cancel.ExitCode == 0, cancel.StdErr);

        var tasks = cluster.WaitForArray(array, SlurmRecordsFixture.Shards, Deadline);
        Assert.Equal(["COMPLETED", "CANCELLED", "COMPLETED"], tasks.Select(t => t.State));
        var first = cluster.WaitForJob(merge, Deadline);
        Assert.Equal(("CANCELLED", "DependencyNeverSatisfied"), (first.State, first.Reason));
        Assert.False(RecordsManifest.TryLoad(shard1)!.Complete);
        Assert.True(File.Exists(Path.Combine(shard1, RecordsCheckpoint.FileName)), "the killed shard should have kept its checkpoint");

        // Resubmit shard 1 alone (a later --array overrides submit.sh's): it resumes from its checkpoint, then the merge runs.
        var (again, merge2) = Submit(cluster, outDir, environment, "--array=1");
        var task = cluster.WaitForJob(again, Deadline);
        var merged = cluster.WaitForJob(merge2, Deadline);
        Assert.Equal(("COMPLETED", "1"), (task.State, task.ArrayTaskId));
        Assert.Equal(("COMPLETED", "0:0"), (merged.State, merged.ExitCode));
        long checkpointWindow = ShardSpec.Parse($"1/{SlurmRecordsFixture.Shards}").Range(f.TotalWindows).First + 4;
        Assert.Contains($"records: resumed from the checkpoint at window {checkpointWindow}", Log(outDir, $"records-{again}_1.log"));
        RecordsAssert.PackedEqual(f.OneRunPacked, Path.Combine(outDir, "records"), 1e-9);
    }

    [Fact]
    public void FailingShardCancelsTheMergeInsteadOfLeavingItPending()
    {
        var cluster = Cluster();
        string outDir = f.Dir["failing"];
        // Shard 2's folder holds a damaged manifest: engine records refuses it (exit code 2, one line naming the file).
        Directory.CreateDirectory(Path.Combine(outDir, "shard-2"));
        File.WriteAllText(Path.Combine(outDir, "shard-2", RecordsManifest.FileName), "{damaged");
        var (array, merge) = Submit(cluster, outDir, []);

        var tasks = cluster.WaitForArray(array, SlurmRecordsFixture.Shards, Deadline);
        Assert.Equal([("COMPLETED", "0:0"), ("COMPLETED", "0:0"), ("FAILED", $"{CommandRunner.BadInput}:0")], tasks.Select(t => (t.State, t.ExitCode)));
        var cancelled = cluster.WaitForJob(merge, Deadline);
        Assert.Equal(("CANCELLED", "DependencyNeverSatisfied"), (cancelled.State, cancelled.Reason));
        Assert.Contains("records.json: not a valid records manifest", Log(outDir, $"records-{array}_2.log"));
        Assert.Contains($"Job dependency can't be satisfied, cancelling JobId={merge}", File.ReadAllText(cluster.ControllerLog));
        Assert.False(File.Exists(Path.Combine(outDir, "logs", $"merge-{merge}.log")), "the merge should never have started");
        Assert.False(Directory.Exists(Path.Combine(outDir, "records")));
    }
}
