using NeuronEngine.Forward;
using NeuronEngine.Pass;

namespace NeuronEngine.Dump;

/// <summary>
/// `engine dump` as a sink of the corpus pass (docs/design.md §3): the requested layers' neurons streamed into safetensors shards.
/// Shards are written one at a time — the pass breaks batches at shard ends — each committed (flushed, renamed) before it
/// is listed in the manifest, so a run killed at any moment resumes from the first missing shard: that is what it tells
/// the pass it still needs.
/// </summary>
/// <param name="shardSinks">how each shard's writer is fed by the device (background writes; ILGPU devices overlap the copies too)</param>
public sealed class DumpSink(DumpSettings settings, string outDir, ShardSinkFactory shardSinks) : IPassSink
{
    private DumpManifest _manifest = new() { Settings = settings };
    private MlpActivationShardWriter? _writer;
    private IShardSink? _sink;
    private int _shard = -1;

    public static string ShardFileName(int index) => $"shard-{index:D5}.safetensors";

    public int ShardCount => (int)((settings.TotalWindows + settings.WindowsPerShard - 1) / settings.WindowsPerShard);

    /// <summary>Shards this run wrote (the rest were kept from an earlier one).</summary>
    public int ShardsWritten { get; private set; }

    public IMlpActivationSink Activations => _sink ?? throw new InvalidOperationException("no shard is open");

    public long ResumeAt(PassWindows windows)
    {
        if (settings.WindowsPerShard < 1) throw new ArgumentException($"--windows-per-shard {settings.WindowsPerShard}: must be at least 1");
        Directory.CreateDirectory(outDir);
        _manifest = ResumeOrStart();
        long missing = 0;
        for (int shard = _manifest.Shards.Count; shard < ShardCount; shard++) missing += MlpActivationShardWriter.FileBytes(settings, Windows(shard));
        IO.DiskSpace.Require(outDir, missing, $"the {ShardCount - _manifest.Shards.Count} shard(s) still to write");
        if (_manifest.Shards.Count == 0) _manifest.Save(outDir);
        return Math.Min(settings.TotalWindows, (long)_manifest.Shards.Count * settings.WindowsPerShard);
    }

    public long NextBoundary(long window) => (window / settings.WindowsPerShard + 1) * settings.WindowsPerShard;

    public void BeginBatch(long firstWindow, int count, ReadOnlySpan<int> tokens)
    {
        int shard = (int)(firstWindow / settings.WindowsPerShard);
        if (shard != _shard)
        {
            _shard = shard;
            _writer = new MlpActivationShardWriter(Path.Combine(outDir, ShardFileName(shard)), settings, settings.Model, First(shard), Windows(shard));
            _sink = shardSinks(_writer);
        }
        _writer!.WriteTokens(firstWindow, tokens);
    }

    public bool EndBatch(long endWindow)
    {
        if (_writer is null || endWindow != First(_shard) + Windows(_shard)) return false;
        _sink!.Drain();
        _writer.Commit();
        CloseShard();
        _manifest.Shards.Add(new ShardEntry(ShardFileName(_shard), First(_shard), Windows(_shard)));
        _manifest = _manifest with { Complete = _shard == ShardCount - 1 };
        _manifest.Save(outDir);
        ShardsWritten++;
        return true;
    }

    public void Complete()
    {
        if (ShardCount == 0 || !_manifest.Complete) (_manifest with { Complete = true }).Save(outDir);
    }

    public void Dispose() => CloseShard();

    private void CloseShard()
    {
        _sink?.Dispose();
        _writer?.Dispose();
        _sink = null;
        _writer = null;
    }

    private long First(int shard) => (long)shard * settings.WindowsPerShard;

    private int Windows(int shard) => (int)Math.Min(settings.WindowsPerShard, settings.TotalWindows - First(shard));

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
