using NeuronEngine.Forward;

namespace NeuronEngine.Pass;

/// <summary>
/// One consumer of a <see cref="CorpusPass"/>: a dump's shard writer, a record collector, the records' pilot sketch, a
/// precision comparison. It says what it needs to resume (<see cref="ResumeAt"/>), where batches must break
/// (<see cref="NextBoundary"/>) and makes its state durable when the pass checkpoints; the pass does the rest (batching,
/// the forward pass, progress, checkpoint timing, the test hooks). The defaults suit a sink with nothing to resume.
/// </summary>
public interface IPassSink : IDisposable
{
    /// <summary>What the device hands each requested layer's neurons to while this sink takes part.</summary>
    IMlpActivationSink Activations { get; }

    /// <summary>
    /// Called once, before the pass: the first corpus window of <paramref name="windows"/> this sink still needs (what
    /// an earlier, killed run left durable is skipped); every later window is then fed to it, in order. A sink may
    /// prepare its output here (check the disk, write an initial manifest).
    /// </summary>
    long ResumeAt(PassWindows windows) => windows.Count == 0 ? 0 : windows[0];

    /// <summary>The first window after <paramref name="window"/> that must start a batch (a shard's first window); long.MaxValue for none.</summary>
    long NextBoundary(long window) => long.MaxValue;

    /// <summary>A batch of windows [first, first + count) is about to run; <paramref name="tokens"/> are theirs, [count, seqLen].</summary>
    void BeginBatch(long firstWindow, int count, ReadOnlySpan<int> tokens) { }

    /// <summary>Every layer of the batch ending before window <paramref name="endWindow"/> was delivered; true when the sink made it durable (committed a shard).</summary>
    bool EndBatch(long endWindow) => false;

    /// <summary>Make everything before window <paramref name="nextWindow"/> durable, so a killed run resumes there (the pass decides when).</summary>
    void Checkpoint(long nextWindow) { }

    /// <summary>The pass went through its last window.</summary>
    void Complete() { }

    void IDisposable.Dispose() { }
}

/// <summary>A sink with nothing to resume or commit (the pilot sketch, a precision comparison): just its activation sink.</summary>
public sealed class PlainPassSink(IMlpActivationSink activations) : IPassSink
{
    public IMlpActivationSink Activations => activations;
}

/// <summary>
/// Where a pass stands, for <see cref="IPassHooks"/>: <see cref="Window"/> is the window after the last one delivered;
/// the current segment runs from the last commit (or the pass's start) to the next sink boundary (or the pass's end);
/// <see cref="Commits"/> counts the segments sinks committed (dump shards) and <see cref="Checkpoints"/> the pass's
/// checkpoints, both in this run only.
/// </summary>
public readonly record struct PassPoint(long Window, long SegmentStart, long SegmentEnd, int Commits, int Checkpoints);

/// <summary>
/// Observers of a pass, for tests that must stop a real run at a known point (kill it mid-shard, hold it after a
/// checkpoint until it is cancelled). Owned by whoever runs the pass and injected; the library never reads the
/// environment for them (the CLI's composition root does, for out-of-process tests: EnvironmentHooks).
/// </summary>
public interface IPassHooks
{
    /// <summary>After a batch's neurons were delivered, before any sink commits it.</summary>
    void AfterBatch(PassPoint point) { }

    /// <summary>After a checkpoint: every sink is durable up to <see cref="PassPoint.Window"/>.</summary>
    void AfterCheckpoint(PassPoint point, CancellationToken cancel) { }

    /// <summary>After an output file of the run was written (the records' files; called from several threads).</summary>
    void AfterOutputFile(int filesWritten) { }
}

/// <summary>No hooks: what every production run has unless its composition root injects some.</summary>
public sealed class NoPassHooks : IPassHooks
{
    public static readonly IPassHooks Instance = new NoPassHooks();
}
