using NeuronEngine.Corpus;
using NeuronEngine.Dump;
using NeuronEngine.Runtime;

namespace NeuronEngine.Records;

/// <summary>`--shard i/N`: the i-th of N equal parts of the corpus windows, [⌊i·S/N⌋, ⌊(i+1)·S/N⌋).</summary>
public readonly record struct ShardSpec(int Index, int Count)
{
    public static readonly ShardSpec Whole = new(0, 1);

    public static ShardSpec Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Whole;
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || !int.TryParse(parts[1], out int n) || n < 1 || i < 0 || i >= n)
            throw new ArgumentException($"--shard: '{text}' is not i/N with 0 ≤ i < N (e.g. 0/4)");
        return new(i, n);
    }

    public WindowRange Range(long totalWindows) =>
        new((long)((Int128)Index * totalWindows / Count), (long)((Int128)(Index + 1) * totalWindows / Count));
}

/// <summary>
/// `engine records` (DESIGN §4, §6): a pilot pass fixes the quantile boundaries (<see cref="QuantileBoundaries"/>),
/// the main pass feeds the shard's windows in corpus order to a collector, and the records are written by
/// <see cref="RecordsOutput"/>. A killed run restarts from scratch on the next invocation (the state lives in
/// memory or on the device; outputs are atomic and the manifest is marked complete last).
/// </summary>
public sealed class RecordsRun(IForwardDevice device, TokenWindows windows, RecordsSettings settings, string layout, ShardSpec shard, string outDir)
{
    public int BatchWindows { get; init; } = device.DefaultBatchWindows;

    /// <summary>Builds the collector for the device (the CLI picks the ILGPU one for ILGPU devices).</summary>
    public Func<RecordShape, IReadOnlyDictionary<int, float[]>, IRecordCollector> CollectorFactory { get; init; } =
        (shape, boundaries) => new CpuRecordCollectorAdapter(new CpuRecordCollector(shape, boundaries));

    /// <summary>With <see cref="DumpDirectory"/>: also write `engine dump` shards of these settings in the same pass.</summary>
    public DumpSettings? Dump { get; init; }
    public string? DumpDirectory { get; init; }

    /// <summary>How the dump's shard writers are fed (device-specific overlap of copies and writes).</summary>
    public ShardSinkFactory ShardSinks { get; init; } = OverlappedShardSink.Factory;

    /// <summary>Runs unless the directory already holds this result; returns false when there was nothing to do.</summary>
    public bool Run(IProgress<RunProgress>? progress = null, CancellationToken cancel = default)
    {
        var shape = settings.Shape;
        shape.Validate();
        if (DumpDirectory is not null && shard != ShardSpec.Whole)
            throw new ArgumentException("--dump-out cannot be combined with --shard (a dump covers the whole corpus; shard the records, or dump separately)");
        if (!RecordsOutput.Layouts.Contains(layout)) throw new ArgumentException($"--format: '{layout}' is not openai or packed");
        if (settings.TotalWindows > RecordKeys.MaxWindows) throw new ArgumentException($"the corpus has {settings.TotalWindows} windows; records support at most {RecordKeys.MaxWindows}");
        var range = shard.Range(settings.TotalWindows);
        var manifest = new RecordsManifest { Layout = layout, Settings = settings, Windows = [range] };
        bool dumpPending = DumpDirectory is not null && DumpManifest.TryLoad(DumpDirectory) is not { Complete: true };
        if (RecordsOutput.PrepareDirectory(outDir, manifest) && !dumpPending) return false;
        (manifest with { Complete = false }).Save(outDir);

        long pilot = settings.QuantileSamples > 0 ? Math.Min(settings.TotalWindows, settings.PilotWindows) : 0;
        long total = pilot + (range.End - range.First);
        var boundaries = PilotBoundaries(progress, total, cancel);

        using var collector = CollectorFactory(shape, boundaries);
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
            return Finish(collector, manifest);
        }
        var tokens = new int[BatchWindows * settings.SeqLen];
        for (long w = range.First; w < range.End;)
        {
            cancel.ThrowIfCancellationRequested();
            int batch = (int)Math.Min(BatchWindows, range.End - w);
            var span = tokens.AsSpan(0, batch * settings.SeqLen);
            windows.CopyWindows(w, batch, span);
            device.Run(span, batch, settings.SeqLen, settings.Layers, collector, w);
            w += batch;
            progress?.Report(new(pilot + w - range.First, total));
        }
        return Finish(collector, manifest);
    }

    private bool Finish(IRecordCollector collector, RecordsManifest manifest)
    {
        var states = collector.Collect();
        var table = new Dictionary<long, int[]>();
        foreach (long window in states.SelectMany(OpenAiRecords.Windows))
            if (!table.ContainsKey(window)) table[window] = windows.Window(window);
        RecordsOutput.Write(outDir, manifest, states, table);
        return true;
    }

    private Dictionary<int, float[]> PilotBoundaries(IProgress<RunProgress>? progress, long total, CancellationToken cancel)
    {
        int neurons = settings.NeuronsPerLayer;
        if (settings.QuantileSamples == 0)
            return settings.Layers.ToDictionary(l => l, _ => new float[neurons * RecordShape.Boundaries]);
        var pilot = QuantileBoundaries.PilotWindows(settings.TotalWindows, settings.PilotWindows);
        var sink = new QuantileBoundaries.PilotSink(neurons);
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

/// <summary>Reports on the caller's thread.</summary>
internal sealed class InlineProgress(Action<RunProgress> report) : IProgress<RunProgress>
{
    public void Report(RunProgress value) => report(value);
}

/// <summary>`engine merge`: combines packed records of disjoint window ranges of one run into that run's result.</summary>
public static class RecordsMerge
{
    public static RecordsManifest Run(IReadOnlyList<string> inputs, string outDir, string layout)
    {
        if (inputs.Count == 0) throw new ArgumentException("--inputs: give at least one records directory");
        if (!RecordsOutput.Layouts.Contains(layout)) throw new ArgumentException($"--format: '{layout}' is not openai or packed");
        var (first, states, tokens) = RecordsOutput.ReadPacked(inputs[0]);
        var ranges = new List<WindowRange>(first.Windows);
        foreach (var input in inputs.Skip(1))
        {
            var (m, more, moreTokens) = RecordsOutput.ReadPacked(input);
            if (m.Settings.FirstDifference(first.Settings) is { } diff)
                throw new InvalidDataException($"{RecordsManifest.PathIn(input)}: records of a different {diff} than {inputs[0]}");
            foreach (var r in m.Windows)
                if (ranges.FirstOrDefault(o => r.First < o.End && o.First < r.End) is { } clash)
                    throw new InvalidDataException($"{input}: windows {r.First}-{r.End - 1} overlap windows {clash.First}-{clash.End - 1} of another input");
            ranges.AddRange(m.Windows);
            for (int i = 0; i < states.Count; i++) states[i].MergeFrom(more[i]);
            foreach (var (w, t) in moreTokens) tokens.TryAdd(w, t);
        }
        // Keep only the token rows the merged selections still refer to.
        var used = states.SelectMany(OpenAiRecords.Windows).ToHashSet();
        var table = tokens.Where(kv => used.Contains(kv.Key)).ToDictionary();
        var manifest = new RecordsManifest { Layout = layout, Settings = first.Settings, Windows = Coalesce(ranges) };
        if (RecordsOutput.PrepareDirectory(outDir, manifest)) return manifest;
        RecordsOutput.Write(outDir, manifest, states, table);
        return manifest;
    }

    private static List<WindowRange> Coalesce(List<WindowRange> ranges)
    {
        var result = new List<WindowRange>();
        foreach (var r in ranges.OrderBy(r => r.First))
        {
            if (result.Count > 0 && result[^1].End == r.First) result[^1] = result[^1] with { End = r.End };
            else result.Add(r);
        }
        return result;
    }
}
