using System.Collections.Concurrent;
using NeuronEngine.Forward;

namespace NeuronEngine.Dump;

/// <summary>
/// The sink a dump hands to the forward device for one shard: it passes each layer's neurons to the shard writer on a
/// background thread, so the forward pass computes the next layers while the previous ones are written.
/// <see cref="Drain"/> waits for every pending write (call it before committing the shard).
/// </summary>
public interface IShardSink : IMlpActivationSink, IDisposable
{
    void Drain();
}

/// <summary>Builds the shard sink for a shard writer (devices choose their own, e.g. with page-locked buffers).</summary>
public delegate IShardSink ShardSinkFactory(IMlpActivationSink shardWriter);

/// <summary>
/// One background thread running jobs in submission order over a fixed set of reusable buffer slots: a producer
/// <see cref="Acquire"/>s a slot (waiting while the job that last used it still runs), fills it, and <see cref="Post"/>s
/// the job that consumes it. Two slots = double buffering. The first failure is rethrown to the producer.
/// </summary>
public sealed class SlotWorker : IDisposable
{
    private readonly BlockingCollection<(int Slot, Action Job)> _queue = [];
    private readonly SemaphoreSlim[] _free;
    private readonly Thread _thread;
    private volatile Exception? _error;

    public SlotWorker(int slots, string name)
    {
        _free = Enumerable.Range(0, slots).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
        _thread = new Thread(Work) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public int Slots => _free.Length;

    public void Acquire(int slot)
    {
        _free[slot].Wait();
        if (_error is { } e) { _free[slot].Release(); throw new IOException($"background write failed: {e.Message}", e); }
    }

    public void Post(int slot, Action job) => _queue.Add((slot, job));

    /// <summary>Waits until every posted job has run; rethrows the first failure.</summary>
    public void Drain()
    {
        foreach (var s in _free) { s.Wait(); s.Release(); }
        if (_error is { } e) throw new IOException($"background write failed: {e.Message}", e);
    }

    private void Work()
    {
        foreach (var (slot, job) in _queue.GetConsumingEnumerable())
        {
            try { if (_error is null) job(); }
            catch (Exception e) { _error = e; }
            finally { _free[slot].Release(); }
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
        _queue.Dispose();
        foreach (var s in _free) s.Dispose();
    }
}

/// <summary>
/// The host shard sink (the `cpu` device, or any device that hands over host spans): each layer's span is copied
/// into one of two pinned buffers and written by the worker while the forward pass goes on.
/// </summary>
public sealed class OverlappedShardSink(IMlpActivationSink shardWriter) : IShardSink
{
    public static readonly ShardSinkFactory Factory = writer => new OverlappedShardSink(writer);

    private readonly SlotWorker _worker = new(2, "shard writer");
    private readonly float[][] _buffers = [[], []];
    private int _next;

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        int slot = _next;
        _next = (_next + 1) % _worker.Slots;
        _worker.Acquire(slot);
        int n = activations.Length;
        if (_buffers[slot].Length < n) _buffers[slot] = GC.AllocateUninitializedArray<float>(n, pinned: true);
        var buffer = _buffers[slot];
        activations.CopyTo(buffer);
        _worker.Post(slot, () => shardWriter.OnMlpActivations(layer, firstWindow, windows, seqLen, buffer.AsSpan(0, n)));
    }

    public void Drain() => _worker.Drain();

    public void Dispose() => _worker.Dispose();
}
