using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;
using NeuronEngine.Records;
using NeuronEngine.Runtime.Ops;

namespace NeuronEngine.Runtime.Records;

/// <summary>
/// The pilot pass on an ILGPU device: <see cref="RecordKernels.WindowMax"/> reduces each layer's [W, T, N] neurons to
/// [W, N] window maxima on the device and only those are downloaded (T times less traffic than copying the neurons;
/// the same values as the host computation, which uses the same comparisons).
/// </summary>
public sealed class IlgpuPilotSink(Accelerator accelerator, int neurons) : QuantileBoundaries.PilotSink(neurons), IDeviceActivationSink, IDisposable
{
    private readonly RecordOps _ops = new(accelerator);
    private MemoryBuffer1D<float, Stride1D.Dense>? _maxes;

    public void OnDeviceActivations(Accelerator acc, int layer, long firstWindow, int windows, int seqLen, ArrayView<float> activations)
    {
        long n = (long)windows * Neurons;
        if (_maxes is null || _maxes.Length < n)
        {
            _maxes?.Dispose();
            _maxes = accelerator.Allocate1D<float>(n);
        }
        var view = _maxes.View.SubView(0, n);
        _ops.WindowMax(accelerator.DefaultStream, activations, view, new RecordBatch(windows, seqLen, Neurons, firstWindow, layer, 0, 0));
        var host = new float[n];
        view.AsContiguous().CopyToCPU(accelerator.DefaultStream, host);
        AddMaxima(layer, host);
    }

    public void Dispose() => _maxes?.Dispose();
}
