using NeuronEngine.Corpus;
using NeuronEngine.Dump;
using NeuronEngine.Forward;
using NeuronEngine.Numerics;

namespace NeuronEngine.Records;

/// <summary>
/// `engine records` (DESIGN §4, §6): a pilot pass fixes the quantile boundaries (<see cref="QuantileBoundaries"/>),
/// the main pass feeds the shard's windows in corpus order to a collector, and the records are written by
/// <see cref="RecordsOutput"/>. The state lives in memory or on the device and is checkpointed every
/// <see cref="CheckpointEveryWindows"/> windows or <see cref="CheckpointInterval"/> (<see cref="RecordsCheckpoint"/>);
/// a killed run resumes from its last checkpoint on the next invocation. Outputs are atomic and the manifest is
/// marked complete last.
/// </summary>
public sealed class RecordsRun(IForwardDevice device, TokenWindows windows, RecordsSettings settings, string layout, ShardSpec shard, string outDir)
{
    public int BatchWindows { get; init; } = device.DefaultBatchWindows;

    /// <summary>Builds the collector for the device (the CLI picks the ILGPU one for ILGPU devices).</summary>
    public Func<RecordShape, IReadOnlyDictionary<int, float[]>, IRecordCollector> CollectorFactory { get; init; } =
        (shape, boundaries) => new CpuRecordCollectorAdapter(new CpuRecordCollector(shape, boundaries));

    /// <summary>Builds the pilot pass's window-max sink (the ILGPU one computes the maxima on the device).</summary>
    public Func<int, QuantileBoundaries.PilotSink> PilotSinkFactory { get; init; } = neurons => new QuantileBoundaries.PilotSink(neurons);

    /// <summary>With <see cref="DumpDirectory"/>: also write `engine dump` shards of these settings in the same pass.</summary>
    public DumpSettings? Dump { get; init; }
    public string? DumpDirectory { get; init; }

    /// <summary>How the dump's shard writers are fed (device-specific overlap of copies and writes).</summary>
    public ShardSinkFactory ShardSinks { get; init; } = OverlappedShardSink.Factory;

    /// <summary>Checkpoint after this many windows (0: by time only, see <see cref="CheckpointInterval"/>).</summary>
    public long CheckpointEveryWindows { get; init; }

    /// <summary>Checkpoint at least this often (wall time); <see cref="Timeout.InfiniteTimeSpan"/> turns time-based checkpoints off.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The window a checkpoint let this run resume from (null when it started afresh).</summary>
    public long? ResumedFrom { get; private set; }

    /// <summary>Where the time went, for throughput figures (pilot pass, main pass, writing the records).</summary>
    public RecordsTimings Timings { get; private set; } = new(TimeSpan.Zero, 0, TimeSpan.Zero, 0, TimeSpan.Zero);

    /// <summary>Runs unless the directory already holds this result; returns false when there was nothing to do.</summary>
    public bool Run(IProgress<RunProgress>? progress = null, CancellationToken cancel = default)
    {
        var shape = settings.Shape;
        shape.Validate();
        if (BatchWindows < 1) throw new ArgumentException($"--batch {BatchWindows}: must be at least 1");
        if (DumpDirectory is not null && shard != ShardSpec.Whole)
            throw new ArgumentException("--dump-out cannot be combined with --shard (a dump covers the whole corpus; shard the records, or dump separately)");
        if (!RecordsOutput.Layouts.Contains(layout)) throw new ArgumentException($"--format: '{layout}' is not openai or packed");
        if (settings.TotalWindows > RecordKeys.MaxWindows) throw new ArgumentException($"the corpus has {settings.TotalWindows} windows; records support at most {RecordKeys.MaxWindows}");
        var range = shard.Range(settings.TotalWindows);
        var manifest = new RecordsManifest { Layout = layout, Settings = settings, Windows = [range] };
        bool dumpPending = DumpDirectory is not null && DumpManifest.TryLoad(DumpDirectory) is not { Complete: true };
        if (RecordsOutput.PrepareDirectory(outDir, manifest) && !dumpPending) return false;
        (manifest with { Complete = false }).Save(outDir);
        if (layout == "packed")
        {
            // Known exactly: one file per layer (checkpoints, when a run lasts long enough to take them, need as much again).
            IO.DiskSpace.Require(outDir, settings.Layers.Length * PackedRecordsFile.FileBytes(shape), $"the packed records of {settings.Layers.Length} layer(s)");
        }

        var checkpoint = DumpDirectory is null ? RecordsCheckpoint.TryLoad(outDir, settings, range) : null;
        if (checkpoint is null) RecordsCheckpoint.Remove(outDir);
        long pilot = settings.QuantileSamples > 0 && checkpoint is null ? Math.Min(settings.TotalWindows, settings.PilotWindows) : 0;
        long total = pilot + (range.End - range.First);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var boundaries = checkpoint is { } c ? c.States.ToDictionary(s => s.Layer, s => s.Boundaries) : PilotBoundaries(progress, total, cancel);
        Timings = Timings with { Pilot = clock.Elapsed, PilotWindows = pilot };
        clock.Restart();

        using var collector = CollectorFactory(shape, boundaries);
        if (checkpoint is { } restored)
        {
            collector.Restore(restored.States);
            ResumedFrom = restored.NextWindow;
        }
        if (DumpDirectory is not null)
        {
            // One pass, two outputs: the dumper drives the forward pass (and its resume) and feeds the collector too.
            var dumper = new ActivationDumper(device, windows, Dump ?? throw new ArgumentException("dump settings missing"), DumpDirectory)
            {
                BatchWindows = BatchWindows,
                ShardSinks = ShardSinks,
                AlsoFeed = collector,
            };
            dumper.Run(progress is null ? null : new InlineProgress(p => progress.Report(new(pilot + p.Done, total))), cancel);
            Timings = Timings with { Pass = clock.Elapsed, PassWindows = range.End - range.First };
            return Finish(collector, manifest);
        }
        var tokens = new int[BatchWindows * settings.SeqLen];
        int killAfter = int.TryParse(Environment.GetEnvironmentVariable(RecordsCheckpoint.KillAfterCheckpointsVariable), out var k) ? k : -1;
        int holdAfter = int.TryParse(Environment.GetEnvironmentVariable(RecordsCheckpoint.HoldAfterCheckpointsVariable), out var h) ? h : -1;
        int checkpoints = 0;
        long lastCheckpoint = ResumedFrom ?? range.First;
        var sinceCheckpoint = System.Diagnostics.Stopwatch.StartNew();
        for (long w = ResumedFrom ?? range.First; w < range.End;)
        {
            cancel.ThrowIfCancellationRequested();
            int batch = (int)Math.Min(BatchWindows, range.End - w);
            var span = tokens.AsSpan(0, batch * settings.SeqLen);
            windows.CopyWindows(w, batch, span);
            device.Run(span, batch, settings.SeqLen, settings.Layers, collector, w);
            w += batch;
            progress?.Report(new(pilot + w - range.First, total));
            if (checkpoints == killAfter) System.Diagnostics.Process.GetCurrentProcess().Kill();
            bool due = (CheckpointEveryWindows > 0 && w - lastCheckpoint >= CheckpointEveryWindows) || sinceCheckpoint.Elapsed >= CheckpointInterval;
            if (due && w < range.End)
            {
                RecordsCheckpoint.Save(outDir, settings, range, w, collector.Collect());
                lastCheckpoint = w;
                checkpoints++;
                sinceCheckpoint.Restart();
                if (checkpoints == holdAfter)
                {
                    cancel.WaitHandle.WaitOne();
                    cancel.ThrowIfCancellationRequested();
                }
            }
        }
        Timings = Timings with { Pass = clock.Elapsed, PassWindows = range.End - (ResumedFrom ?? range.First) };
        return Finish(collector, manifest);
    }

    private bool Finish(IRecordCollector collector, RecordsManifest manifest)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var states = collector.Collect();
        var table = new Dictionary<long, int[]>();
        foreach (long window in states.SelectMany(OpenAiRecords.Windows))
            if (!table.ContainsKey(window)) table[window] = windows.Window(window);
        RecordsOutput.Write(outDir, manifest, states, table);
        RecordsCheckpoint.Remove(outDir);
        Timings = Timings with { Write = clock.Elapsed };
        return true;
    }

    private Dictionary<int, float[]> PilotBoundaries(IProgress<RunProgress>? progress, long total, CancellationToken cancel)
    {
        int neurons = settings.NeuronsPerLayer;
        if (settings.QuantileSamples == 0)
            return settings.Layers.ToDictionary(l => l, _ => new float[neurons * RecordShape.Boundaries]);
        var pilot = QuantileBoundaries.PilotWindows(settings.TotalWindows, settings.PilotWindows);
        var sink = PilotSinkFactory(neurons);
        using var ownedSink = sink as IDisposable;
        var tokens = new int[BatchWindows * settings.SeqLen];
        for (int i = 0; i < pilot.Length;)
        {
            cancel.ThrowIfCancellationRequested();
            int batch = Math.Min(BatchWindows, pilot.Length - i);
            for (int j = 0; j < batch; j++) windows.CopyWindows(pilot[i + j], 1, tokens.AsSpan(j * settings.SeqLen, settings.SeqLen));
            device.Run(tokens.AsSpan(0, batch * settings.SeqLen), batch, settings.SeqLen, settings.Layers, sink, pilot[i]);
            i += batch;
            progress?.Report(new(i, total));
        }
        return settings.Layers.ToDictionary(l => l, sink.Boundaries);
    }
}

/// <summary>
/// Wall time of a records run's stages: the pilot pass over <paramref name="PilotWindows"/> windows, the main pass
/// over <paramref name="PassWindows"/> windows (forward + collection, this invocation only), and collecting and
/// writing the records.
/// </summary>
public sealed record RecordsTimings(TimeSpan Pilot, long PilotWindows, TimeSpan Pass, long PassWindows, TimeSpan Write);
