using NeuronEngine.Forward;

namespace NeuronEngine.Records;

/// <summary>
/// A record collector: a sink of the forward pass that keeps the records' state (on the host or the device) and
/// hands it over once the pass is done. Implementations: <see cref="CpuRecordCollectorAdapter"/> (managed) and the
/// ILGPU collector in Engine.Runtime.
/// </summary>
public interface IRecordCollector : IMlpActivationSink, IDisposable
{
    /// <summary>The collected state of every requested layer (downloads it from the device where it lives there).</summary>
    IReadOnlyList<LayerRecordState> Collect();

    /// <summary>Replaces the state with a checkpoint's (same layers, shape and boundaries), to resume a killed run.</summary>
    void Restore(IReadOnlyList<LayerRecordState> states);
}

/// <summary>The managed collector behind <see cref="IRecordCollector"/>.</summary>
public sealed class CpuRecordCollectorAdapter(CpuRecordCollector inner) : IRecordCollector
{
    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations) =>
        inner.OnMlpActivations(layer, firstWindow, windows, seqLen, activations);

    public IReadOnlyList<LayerRecordState> Collect() => inner.Layers.Values.OrderBy(s => s.Layer).ToList();

    public void Restore(IReadOnlyList<LayerRecordState> states) => inner.Restore(states);

    public void Dispose() { }
}
