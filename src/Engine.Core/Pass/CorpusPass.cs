using System.Diagnostics;
using NeuronEngine.Corpus;
using NeuronEngine.Forward;
using NeuronEngine.IO;

namespace NeuronEngine.Pass;

/// <summary>A device and the sinks its activations go to (several lanes: the same windows through several devices, as
/// `engine precision-effect` compares precisions).</summary>
public sealed record PassLane(IForwardDevice Device, IReadOnlyList<IPassSink> Sinks);

/// <summary>What a pass did: where it started (a resume skips what sinks had), how many windows it ran, and the time.</summary>
public sealed record PassResult(long StartWindow, long WindowsRun, TimeSpan Elapsed, IReadOnlyList<TimeSpan> LaneTimes, int Commits, int Checkpoints);

/// <summary>
/// The one corpus pass (docs/design.md §1): windows → device forward → any number of sinks. `engine dump`, `records` (its pilot
/// and main pass, with or without `--dump-out`) and `precision-effect` are this loop with different sinks. It starts at
/// the earliest window a sink still needs (a sink that is further along joins when the pass reaches its resume point),
/// cuts batches at the sinks' boundaries, reports progress, checkpoints every sink when
/// <see cref="CheckpointEveryWindows"/> windows or <see cref="CheckpointInterval"/> have passed, and calls
/// <see cref="Hooks"/> at each step. Every sink sees its windows in corpus order.
/// </summary>
public sealed class CorpusPass
{
    private readonly TokenWindows _corpus;
    private readonly IReadOnlyCollection<int> _layers;
    private readonly int _batchWindows;

    public CorpusPass(TokenWindows corpus, IReadOnlyCollection<int> layers, int batchWindows)
    {
        if (batchWindows < 1) throw new ArgumentException($"--batch {batchWindows}: must be at least 1");
        _corpus = corpus; _layers = layers; _batchWindows = batchWindows;
    }

    public IPassHooks Hooks { get; init; } = NoPassHooks.Instance;

    /// <summary>Checkpoint after this many windows (0: by time only).</summary>
    public long CheckpointEveryWindows { get; init; }

    /// <summary>Checkpoint at least this often (wall time); infinite (the default) checkpoints by window count only.</summary>
    public TimeSpan CheckpointInterval { get; init; } = Timeout.InfiniteTimeSpan;

    public PassResult Run(PassWindows windows, IReadOnlyList<PassLane> lanes, IProgress<RunProgress>? progress = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var sinks = lanes.SelectMany(l => l.Sinks).ToList();
        var resumeAt = sinks.ToDictionary(s => s, s => s.ResumeAt(windows));
        long start = sinks.Count == 0 ? windows.Count : windows.PositionOf(resumeAt.Values.Min());
        long end = windows.Count == 0 ? 0 : windows[windows.Count - 1] + 1;
        progress?.Report(new RunProgress(start, windows.Count));
        int seqLen = _corpus.SeqLen, commits = 0, checkpoints = 0;
        var tokens = new int[_batchWindows * seqLen];
        var laneTimes = new TimeSpan[lanes.Count];
        long segmentStart = start < windows.Count ? windows[start] : end, sinceWindows = 0;
        var sinceCheckpoint = Stopwatch.StartNew();
        for (long p = start; p < windows.Count;)
        {
            cancel.ThrowIfCancellationRequested();
            long first = windows[p];
            // A batch ends before any sink's boundary (the segment: a shard) and before the resume point of a sink that
            // has not joined yet.
            long segmentEnd = end, limit;
            foreach (var s in sinks) segmentEnd = Math.Min(segmentEnd, s.NextBoundary(first));
            limit = segmentEnd;
            foreach (var s in sinks) if (resumeAt[s] > first) limit = Math.Min(limit, resumeAt[s]);
            int count = (int)Math.Min(_batchWindows, Math.Max(1, windows.PositionOf(limit) - p));
            var span = tokens.AsSpan(0, count * seqLen);
            windows.CopyTokens(_corpus, p, count, span);
            long batchEnd = windows[p + count - 1] + 1;
            for (int l = 0; l < lanes.Count; l++)
            {
                var active = lanes[l].Sinks.Where(s => resumeAt[s] <= first).ToList();
                if (active.Count == 0) continue;
                foreach (var s in active) s.BeginBatch(first, count, span);
                var laneClock = Stopwatch.StartNew();
                lanes[l].Device.Run(span, count, seqLen, _layers, FanOutSink.Of(active.Select(s => s.Activations).ToList()), first);
                laneTimes[l] += laneClock.Elapsed;
            }
            p += count;
            sinceWindows += count;
            progress?.Report(new RunProgress(p, windows.Count));
            Hooks.AfterBatch(new PassPoint(batchEnd, segmentStart, segmentEnd, commits, checkpoints));
            bool committed = false;
            foreach (var s in sinks)
                if (resumeAt[s] <= first) committed |= s.EndBatch(batchEnd);
            if (committed)
            {
                commits++;
                segmentStart = batchEnd;
            }
            bool due = (CheckpointEveryWindows > 0 && sinceWindows >= CheckpointEveryWindows)
                || (CheckpointInterval != Timeout.InfiniteTimeSpan && sinceCheckpoint.Elapsed >= CheckpointInterval);
            if (due && p < windows.Count)
            {
                foreach (var s in sinks)
                    if (resumeAt[s] <= first) s.Checkpoint(batchEnd);
                checkpoints++;
                sinceWindows = 0;
                sinceCheckpoint.Restart();
                Hooks.AfterCheckpoint(new PassPoint(batchEnd, segmentStart, segmentEnd, commits, checkpoints), cancel);
            }
        }
        foreach (var s in sinks) s.Complete();
        return new PassResult(start < windows.Count ? windows[start] : end, windows.Count - start, clock.Elapsed, laneTimes, commits, checkpoints);
    }
}
