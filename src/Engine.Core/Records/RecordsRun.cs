using NeuronEngine.Corpus;
using NeuronEngine.Forward;
using NeuronEngine.IO;
using NeuronEngine.Numerics;
using NeuronEngine.Pass;

namespace NeuronEngine.Records;

/// <summary>
/// `engine records` (docs/design.md §4, §6) on the corpus pass: a pilot pass over evenly spaced windows fixes the quantile
/// boundaries (<see cref="QuantileBoundaries"/>), the main pass feeds the shard's windows in corpus order to a record
/// collector — and to any other sinks of the same pass (<see cref="AlsoInPass"/>: `--dump-out`'s shards) — and the
/// records are written by <see cref="RecordsOutput"/>. The collector's state lives in memory or on the device and is
/// checkpointed by the pass every <see cref="CheckpointEveryWindows"/> windows or <see cref="CheckpointInterval"/>
/// (<see cref="RecordsCheckpoint"/>); a killed run resumes from its last checkpoint on the next invocation (the other
/// sinks from what they kept: a dump from its first missing shard). Outputs are atomic and the manifest is marked
/// complete last.
/// </summary>
public sealed class RecordsRun(IForwardDevice device, TokenWindows windows, RecordsSettings settings, string layout, ShardSpec shard, string outDir)
{
    public int BatchWindows { get; init; } = device.DefaultBatchWindows;

    /// <summary>Builds the collector for the device (the CLI picks the ILGPU one for ILGPU devices).</summary>
    public Func<RecordShape, IReadOnlyDictionary<int, float[]>, IRecordCollector> CollectorFactory { get; init; } =
        (shape, boundaries) => new CpuRecordCollectorAdapter(new CpuRecordCollector(shape, boundaries));

    /// <summary>Builds the pilot pass's window-max sink (the ILGPU one computes the maxima on the device).</summary>
    public Func<int, QuantileBoundaries.PilotSink> PilotSinkFactory { get; init; } = neurons => new QuantileBoundaries.PilotSink(neurons);

    /// <summary>Further sinks of the main pass (one pass, several outputs: `--dump-out`'s shards); each resumes on its own terms.</summary>
    public IReadOnlyList<IPassSink> AlsoInPass { get; init; } = [];

    /// <summary>Checkpoint after this many windows (0: by time only, see <see cref="CheckpointInterval"/>).</summary>
    public long CheckpointEveryWindows { get; init; }

    /// <summary>Checkpoint at least this often (wall time); <see cref="Timeout.InfiniteTimeSpan"/> turns time-based checkpoints off.</summary>
    public TimeSpan CheckpointInterval { get; init; } = DefaultCheckpointInterval;

    public static readonly TimeSpan DefaultCheckpointInterval = TimeSpan.FromMinutes(10);

    /// <summary>Why `--token-lookup` and `--shard` are refused together (the CLI says it before opening anything).</summary>
    public const string TokenLookupWithShard = "--token-lookup cannot be combined with --shard (engine merge does not merge the token-lookup sums); run the token lookup unsharded";

    /// <summary>Test hooks of the main pass and the writing of the outputs (none in production).</summary>
    public IPassHooks Hooks { get; init; } = NoPassHooks.Instance;

    /// <summary>
    /// Memory the `--token-lookup` sums may use (<see cref="TokenLookupCollector.RequireMemory"/>); the GC's limit by
    /// default (the machine's memory, or the container's), set by tests to check the refusal without allocating.
    /// </summary>
    public long AvailableMemoryBytes { get; init; } = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>The window a checkpoint let this run resume from (null when it started afresh).</summary>
    public long? ResumedFrom { get; private set; }

    /// <summary>Where the time went, for throughput figures (pilot pass, main pass, writing the records).</summary>
    public RecordsTimings Timings { get; private set; } = new(TimeSpan.Zero, 0, TimeSpan.Zero, 0, TimeSpan.Zero);

    /// <summary>Runs unless the directory already holds these records; returns false when they were there already.</summary>
    public bool Run(IProgress<RunProgress>? progress = null, CancellationToken cancel = default)
    {
        var shape = settings.Shape;
        shape.Validate();
        if (BatchWindows < 1) throw new ArgumentException($"--batch {BatchWindows}: must be at least 1");
        if (AlsoInPass.Count > 0 && shard != ShardSpec.Whole)
            throw new ArgumentException("--dump-out cannot be combined with --shard (a dump covers the whole corpus; shard the records, or dump separately)");
        if (!RecordsOutput.Layouts.Contains(layout)) throw new ArgumentException($"--format: '{layout}' is not openai or packed");
        if (settings.TotalWindows > RecordKeys.MaxWindows) throw new ArgumentException($"the corpus has {settings.TotalWindows} windows; records support at most {RecordKeys.MaxWindows}");
        if (settings.TokenLookup > 0 && shard != ShardSpec.Whole)
            throw new ArgumentException(TokenLookupWithShard);
        var range = shard.Range(settings.TotalWindows);
        if (settings.TokenLookup > 0)
            TokenLookupCollector.RequireMemory(settings.Layers.Length, settings.NeuronsPerLayer, Text.Gpt2Tokenizer.VocabSize, range.Count * settings.SeqLen, AvailableMemoryBytes);
        var manifest = new RecordsManifest { Layout = layout, Settings = settings, Windows = [range] };
        var pass = new CorpusPass(windows, settings.Layers, BatchWindows)
        {
            Hooks = Hooks, CheckpointEveryWindows = CheckpointEveryWindows, CheckpointInterval = CheckpointInterval,
        };
        if (RecordsOutput.PrepareDirectory(outDir, manifest))
        {
            // The records are there; the pass's other sinks may still have work (a dump killed after the records).
            if (AlsoInPass.Count > 0) pass.Run(PassWindows.Range(range), [new PassLane(device, AlsoInPass)], progress, cancel);
            return false;
        }
        (manifest with { Complete = false }).Save(outDir);
        if (layout == "packed")
        {
            // Known exactly: one file per layer (checkpoints, when a run lasts long enough to take them, need as much again).
            DiskSpace.Require(outDir, settings.Layers.Length * PackedRecordsFile.FileBytes(shape), $"the packed records of {settings.Layers.Length} layer(s)");
        }

        var checkpoint = RecordsCheckpoint.TryLoad(outDir, settings, range);
        if (checkpoint is null) RecordsCheckpoint.Remove(outDir);
        long pilot = settings.QuantileSamples > 0 && checkpoint is null ? Math.Min(settings.TotalWindows, settings.PilotWindows) : 0;
        long total = pilot + range.Count;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var boundaries = checkpoint is { } c ? c.States.ToDictionary(s => s.Layer, s => s.Boundaries) : PilotBoundaries(progress, total, cancel);
        Timings = Timings with { Pilot = clock.Elapsed, PilotWindows = pilot };

        using var collector = CollectorFactory(shape, boundaries);
        var lookup = settings.TokenLookup > 0 ? new TokenLookupCollector(settings.Layers, settings.NeuronsPerLayer, Text.Gpt2Tokenizer.VocabSize) : null;
        if (checkpoint is { } restored)
        {
            collector.Restore(restored.States);
            lookup?.Restore(Path.Combine(restored.Directory, TokenLookupFiles.StateFileName));
            ResumedFrom = restored.NextWindow;
        }
        var records = new RecordsSink(collector, lookup, outDir, settings, range, ResumedFrom);
        IPassSink[] lookupSinks = lookup is null ? [] : [new TokenLookupSink(lookup, records)];
        var result = pass.Run(PassWindows.Range(range), [new PassLane(device, [records, .. lookupSinks, .. AlsoInPass])],
            progress is null ? null : new InlineProgress<RunProgress>(p => progress.Report(new(pilot + p.Done, total))), cancel);
        Timings = Timings with { Pass = result.Elapsed, PassWindows = result.WindowsRun };
        return Finish(collector, lookup, manifest);
    }

    private bool Finish(IRecordCollector collector, TokenLookupCollector? lookup, RecordsManifest manifest)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Before the records, whose writing marks the manifest complete last.
        if (lookup is not null)
            TokenLookupFiles.Write(outDir, lookup, settings.TokenLookup, settings.TokenLookupMinCount ?? TokenLookupFiles.DefaultMinCount);
        var states = collector.Collect();
        var table = new Dictionary<long, int[]>();
        foreach (long window in states.SelectMany(OpenAiRecords.Windows))
            if (!table.ContainsKey(window)) table[window] = windows.Window(window);
        RecordsOutput.Write(outDir, manifest, states, table, new InlineProgress<int>(Hooks.AfterOutputFile));
        RecordsCheckpoint.Remove(outDir);
        Timings = Timings with { Write = clock.Elapsed };
        return true;
    }

    /// <summary>The pilot pass: window maxima of evenly spaced windows → each neuron's band boundaries.</summary>
    private Dictionary<int, float[]> PilotBoundaries(IProgress<RunProgress>? progress, long total, CancellationToken cancel)
    {
        int neurons = settings.NeuronsPerLayer;
        if (settings.QuantileSamples == 0)
            return settings.Layers.ToDictionary(l => l, _ => new float[neurons * RecordShape.Boundaries]);
        var sink = PilotSinkFactory(neurons);
        using var ownedSink = sink as IDisposable;
        new CorpusPass(windows, settings.Layers, BatchWindows).Run(
            PassWindows.Listed(QuantileBoundaries.PilotWindows(settings.TotalWindows, settings.PilotWindows)),
            [new PassLane(device, [new PlainPassSink(sink)])],
            progress is null ? null : new InlineProgress<RunProgress>(p => progress.Report(new(p.Done, total))), cancel);
        return settings.Layers.ToDictionary(l => l, sink.Boundaries);
    }

    /// <summary>
    /// The collector as a sink of the pass: it resumes from its checkpoint and checkpoints when the pass says; the
    /// checkpoint holds the token lookup's state too, so both resume from the same window.
    /// </summary>
    private sealed class RecordsSink(IRecordCollector collector, TokenLookupCollector? lookup, string outDir, RecordsSettings settings, WindowRange range, long? resumeAt) : IPassSink
    {
        public Forward.IMlpActivationSink Activations => collector;

        public long ResumeAt(PassWindows windows) => resumeAt ?? range.First;

        public void Checkpoint(long nextWindow) => RecordsCheckpoint.Save(outDir, settings, range, nextWindow, collector.Collect(), lookup);
    }

    /// <summary>
    /// The token lookup as a host sink of the same pass: the batch's tokens, then each layer's activations (an ILGPU
    /// device downloads them for it); it resumes where the records do and is checkpointed by them.
    /// </summary>
    private sealed class TokenLookupSink(TokenLookupCollector lookup, RecordsSink records) : IPassSink
    {
        public Forward.IMlpActivationSink Activations => lookup;

        public long ResumeAt(PassWindows windows) => records.ResumeAt(windows);

        public void BeginBatch(long firstWindow, int count, ReadOnlySpan<int> tokens) => lookup.BeginBatch(firstWindow, count, tokens);
    }
}

/// <summary>
/// Wall time of a records run's stages: the pilot pass over <paramref name="PilotWindows"/> windows, the main pass
/// over <paramref name="PassWindows"/> windows (forward + collection, this invocation only), and collecting and
/// writing the records.
/// </summary>
public sealed record RecordsTimings(TimeSpan Pilot, long PilotWindows, TimeSpan Pass, long PassWindows, TimeSpan Write);
