using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Dump;
using NeuronEngine.Forward;

namespace NeuronEngine.Runtime.Dump;

/// <summary>
/// The shard sink of ILGPU devices, so the device does not wait for the disk. Per layer: the view is copied
/// device-to-device into staging buffer k on
/// the forward's stream (the next layer overwrites the original), the forward's stream is synchronised (ILGPU 1.5
/// has no cross-stream events, so this is how the second stream learns the staging copy is done), then a second
/// stream copies staging k into page-locked host buffer k asynchronously while the forward's stream computes the
/// next layers, and the writer thread waits for that copy and writes buffer k into the shard. Two slots (k = 0, 1):
/// the forward only waits when both previous layers are still being written.
/// </summary>
public sealed class DeviceShardSink : IDeviceActivationSink, IShardSink
{
    /// <summary>The shard sinks of a <see cref="DumpSink"/>: this one on ILGPU devices, the host one otherwise.</summary>
    public static ShardSinkFactory For(IForwardDevice device) => device is IlgpuForwardDevice ilgpu
        ? writer => new DeviceShardSink(ilgpu.Accelerator, writer)
        : OverlappedShardSink.Factory;

    private readonly Accelerator _accelerator;
    private readonly IMlpActivationSink _writer;
    private readonly AcceleratorStream _copyStream;
    private readonly SlotWorker _worker = new(2, "shard writer");
    private readonly MemoryBuffer1D<float, Stride1D.Dense>?[] _staging = new MemoryBuffer1D<float, Stride1D.Dense>?[2];
    private readonly PageLockedArray1D<float>?[] _pinned = new PageLockedArray1D<float>?[2];
    private int _next;

    public DeviceShardSink(Accelerator accelerator, IMlpActivationSink writer)
    {
        _accelerator = accelerator; _writer = writer;
        _copyStream = accelerator.CreateStream();
    }

    public void OnDeviceActivations(Accelerator accelerator, int layer, long firstWindow, int windows, int seqLen, ArrayView<float> activations)
    {
        int slot = _next;
        _next = (_next + 1) % _worker.Slots;
        _worker.Acquire(slot);
        long n = activations.Length;
        if (_staging[slot] is null || _staging[slot]!.Length < n)
        {
            _staging[slot]?.Dispose(); _pinned[slot]?.Dispose();
            _staging[slot] = _accelerator.Allocate1D<float>(n);
            _pinned[slot] = _accelerator.AllocatePageLocked1D<float>(n);
        }
        var staging = _staging[slot]!.View.SubView(0, n);
        var pinned = _pinned[slot]!;
        ArrayView1D<float, Stride1D.Dense> source = activations;
        source.CopyTo(_accelerator.DefaultStream, staging);   // ordered after the GELU that produced the view
        _accelerator.DefaultStream.Synchronize();
        staging.CopyTo(_copyStream, pinned.ArrayView.SubView(0, n)); // D2H on the second stream, overlapping the next layers
        _worker.Post(slot, () =>
        {
            _accelerator.Bind();        // the CUDA context must be current on the writer thread
            _copyStream.Synchronize();
            _writer.OnMlpActivations(layer, firstWindow, windows, seqLen, pinned.Span[..(int)n]);
        });
    }

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        // Host spans (a device that does not hand over views): write synchronously; nothing to overlap with.
        _worker.Drain();
        _writer.OnMlpActivations(layer, firstWindow, windows, seqLen, activations);
    }

    public void Drain() => _worker.Drain();

    public void Dispose()
    {
        _worker.Dispose();
        foreach (var b in _staging) b?.Dispose();
        foreach (var p in _pinned) p?.Dispose();
        _copyStream.Dispose();
    }
}
