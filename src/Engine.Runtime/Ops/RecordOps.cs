using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime.Ops;

/// <summary>Host side of <see cref="RecordKernels"/>: loads them once per accelerator, launches on a stream.</summary>
public sealed class RecordOps(Accelerator accelerator)
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, int> _windowMax =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(RecordKernels.WindowMax);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<double>, RecordBatch> _moments =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<double>, RecordBatch>(RecordKernels.Moments);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch> _top =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>(RecordKernels.SelectTop);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch> _random =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>(RecordKernels.SelectRandom);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch> _quantile =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ulong>, ArrayView<float>, RecordBatch>(RecordKernels.SelectQuantile);

    /// <summary>maxes[w·N + n] = max over the window's tokens.</summary>
    public void WindowMax(AcceleratorStream s, ArrayView<float> acts, ArrayView<float> maxes, RecordBatch b) =>
        _windowMax(s, b.Windows * b.Neurons, acts, maxes, b.SeqLen, b.Neurons);

    public void Moments(AcceleratorStream s, ArrayView<float> acts, ArrayView<double> moments, RecordBatch b) =>
        _moments(s, b.Neurons, acts, moments, b);

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
