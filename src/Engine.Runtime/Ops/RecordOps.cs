using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime.Ops;

/// <summary>Host side of <see cref="RecordKernels"/>: loads them once per accelerator, launches on a stream.</summary>
public sealed class RecordOps(Accelerator accelerator)
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, int> _windowMax =
        KernelCatalog.WindowMax.Load(accelerator);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<double>, int, int> _windowMoments =
        KernelCatalog.WindowMoments.Load(accelerator);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, int, int> _mergeMoments =
        KernelCatalog.MergeMoments.Load(accelerator);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch> _top =
        KernelCatalog.SelectTop.Load(accelerator);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch> _random =
        KernelCatalog.SelectRandom.Load(accelerator);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch> _quantile =
        KernelCatalog.SelectQuantile.Load(accelerator);

    /// <summary>maxes[w·N + n] = max over the window's tokens.</summary>
    public void WindowMax(AcceleratorStream s, ArrayView<float> acts, ArrayView<float> maxes, RecordBatch b) =>
        _windowMax(s, b.Windows * b.Neurons, acts, maxes, b.SeqLen, b.Neurons);

    /// <summary>Adds the batch to the running moments: per-window moments (W·N threads), then merged per neuron in window order.</summary>
    public void Moments(AcceleratorStream s, ArrayView<float> acts, ArrayView<double> partial, ArrayView<double> moments, RecordBatch b)
    {
        _windowMoments(s, b.Windows * b.Neurons, acts, partial, b.SeqLen, b.Neurons);
        _mergeMoments(s, b.Neurons, partial, moments, b.Windows, b.Neurons);
    }

    public void SelectTop(AcceleratorStream s, ArrayView<float> acts, ArrayView<float> maxes, ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b)
    {
        if (b.Capacity > 0) _top(s, b.Neurons, acts, maxes, keys, slotActs, b);
    }

    public void SelectRandom(AcceleratorStream s, ArrayView<float> acts, ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b)
    {
        if (b.Capacity > 0) _random(s, b.Neurons, acts, keys, slotActs, b);
    }

    public void SelectQuantile(AcceleratorStream s, ArrayView<float> acts, ArrayView<float> maxes, ArrayView<float> boundaries,
        ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b)
    {
        if (b.Capacity > 0) _quantile(s, b.Neurons * 5, acts, maxes, boundaries, keys, slotActs, b);
    }
}
