using NeuronEngine.Corpus;
using NeuronEngine.Forward;

namespace NeuronEngine.Dump;

/// <summary>Progress of a long run: units done (windows) out of the total, counting what a resume skipped.</summary>
public readonly record struct RunProgress(long Done, long Total);

/// <summary>
/// `engine dump`: runs the forward pass over every window of a corpus and streams the requested layers'
/// neurons into safetensors shards (DESIGN §3). Shards are written one at a time, each committed before it is
/// listed in the manifest, so the run can be killed at any moment and resumed from the first missing shard.
/// </summary>
public sealed class ActivationDumper(IForwardDevice device, TokenWindows windows, DumpSettings settings, string outDir)
{
    /// <summary>For crash tests: kill this process (SIGKILL) halfway through the shard after this many were written.</summary>
    public const string KillAfterShardsVariable = "ENGINE_TEST_KILL_AFTER_SHARDS";

    public int BatchWindows { get; init; } = device.DefaultBatchWindows;

    /// <summary>How each shard's writer is wrapped for the forward device (background writes; devices may overlap the copies too).</summary>
    public ShardSinkFactory ShardSinks { get; init; } = OverlappedShardSink.Factory;

    /// <summary>
    /// A second consumer of every window's neurons, in corpus order (records in the same pass as the dump). On resume
    /// it is first fed the kept shards, read back from disk — the same values when the dump is f32, the f16-rounded
    /// ones when it is f16.
    /// </summary>
    public IMlpActivationSink? AlsoFeed { get; init; }

    public static string ShardFileName(int index) => $"shard-{index:D5}.safetensors";

    /// <summary>Writes the missing shards; returns the number of shards this call wrote.</summary>
    public int Run(IProgress<RunProgress>? progress = null, CancellationToken cancel = default)
    {
        if (BatchWindows < 1) throw new ArgumentException($"--batch {BatchWindows}: must be at least 1");
        if (settings.WindowsPerShard < 1) throw new ArgumentException($"--windows-per-shard {settings.WindowsPerShard}: must be at least 1");
        Directory.CreateDirectory(outDir);
        var manifest = ResumeOrStart();
        long total = settings.TotalWindows;
        int shardCount = (int)((total + settings.WindowsPerShard - 1) / settings.WindowsPerShard);
        long missing = 0;
        for (int shard = manifest.Shards.Count; shard < shardCount; shard++)
            missing += MlpActivationShardWriter.FileBytes(settings, (int)Math.Min(settings.WindowsPerShard, total - (long)shard * settings.WindowsPerShard));
        IO.DiskSpace.Require(outDir, missing, $"the {shardCount - manifest.Shards.Count} shard(s) still to write");
        if (manifest.Shards.Count == 0) manifest.Save(outDir);
        int killAfter = int.TryParse(Environment.GetEnvironmentVariable(KillAfterShardsVariable), out var k) ? k : -1;
        int written = 0;
        var tokens = new int[BatchWindows * settings.SeqLen];
        progress?.Report(new(manifest.Shards.Sum(s => (long)s.Windows), total));
        if (AlsoFeed is not null) FeedKeptShards(manifest);
        for (int shard = manifest.Shards.Count; shard < shardCount; shard++)
        {
            long first = (long)shard * settings.WindowsPerShard;
            int count = (int)Math.Min(settings.WindowsPerShard, total - first);
            string name = ShardFileName(shard);
            using (var writer = new MlpActivationShardWriter(Path.Combine(outDir, name), settings, settings.Model, first, count))
            using (var sink = ShardSinks(writer, AlsoFeed))
            {
                for (int done = 0; done < count;)
                {
                    cancel.ThrowIfCancellationRequested();
                    int batch = Math.Min(BatchWindows, count - done);
                    var batchTokens = tokens.AsSpan(0, batch * settings.SeqLen);
                    windows.CopyWindows(first + done, batch, batchTokens);
                    writer.WriteTokens(first + done, batchTokens);
                    device.Run(batchTokens, batch, settings.SeqLen, settings.Layers, sink, first + done);
                    done += batch;
                    if (written == killAfter && done * 2 >= count) System.Diagnostics.Process.GetCurrentProcess().Kill();
                    progress?.Report(new(first + done, total));
                }
                sink.Drain();
                writer.Commit();
            }
            manifest.Shards.Add(new ShardEntry(name, first, count));
            manifest = manifest with { Complete = shard == shardCount - 1 };
            manifest.Save(outDir);
            written++;
        }
        if (shardCount == 0 || !manifest.Complete) (manifest with { Complete = true }).Save(outDir);
        return written;
    }

    private void FeedKeptShards(DumpManifest manifest)
    {
        foreach (var s in manifest.Shards)
        {
            using var shard = Format.SafeTensorsFile.Open(Path.Combine(outDir, s.File));
            foreach (int layer in settings.Layers)
                AlsoFeed!.OnMlpActivations(layer, s.FirstWindow, s.Windows, settings.SeqLen,
                    shard.ReadAsFloat(shard.Get(MlpActivationShardWriter.TensorName(layer))));
        }
    }

    /// <summary>Keeps the complete shards of an earlier run with the same settings; refuses a directory holding another dump.</summary>
    private DumpManifest ResumeOrStart()
    {
        var existing = DumpManifest.TryLoad(outDir);
        if (existing is null) return new DumpManifest { Settings = settings }; // saved once the space is known to suffice
        string manifestPath = DumpManifest.PathIn(outDir);
        if (existing.Format != DumpManifest.CurrentFormat)
            throw new InvalidDataException($"{manifestPath}: format '{existing.Format}' is not {DumpManifest.CurrentFormat}");
        if (existing.Settings.FirstDifference(settings) is { } diff)
            throw new InvalidDataException($"{manifestPath}: this directory holds a dump made with other settings ({diff}); use a new --out or delete it");
        // The manifest lists shards in order; keep the prefix whose files are still there.
        var kept = new List<ShardEntry>();
        foreach (var s in existing.Shards)
        {
            if (s.File != ShardFileName(kept.Count) || !File.Exists(Path.Combine(outDir, s.File))) break;
            kept.Add(s);
        }
        return existing with { Shards = kept, Complete = false };
    }
}
