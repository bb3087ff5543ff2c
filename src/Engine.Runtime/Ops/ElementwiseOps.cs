using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime.Ops;

/// <summary>Host side of <see cref="ElementwiseKernels"/>: loads them once per accelerator, launches on a stream.</summary>
public sealed class ElementwiseOps(Accelerator accelerator)
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>> _add = KernelCatalog.AddInPlace.Load(accelerator);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<ushort>, ArrayView<float>> _widenF16 = KernelCatalog.WidenF16.Load(accelerator);
    private readonly Action<AcceleratorStream, Index1D, ArrayView<ushort>, ArrayView<float>> _widenBF16 = KernelCatalog.WidenBF16.Load(accelerator);

    /// <summary>x += y over the first <paramref name="count"/> elements.</summary>
    public void AddInPlace(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int count) =>
        _add(stream, count, x.SubView(0, count), y.SubView(0, count));

    /// <summary>Widens raw 16-bit weights to float32 on the device (no host copy of the converted tensor).</summary>
    public void Widen(AcceleratorStream stream, ArrayView<ushort> source, WeightFormat format, ArrayView<float> destination)
    {
        if (format == WeightFormat.F16) _widenF16(stream, (int)source.Length, source, destination);
        else if (format == WeightFormat.BF16) _widenBF16(stream, (int)source.Length, source, destination);
        else throw new ArgumentException($"cannot widen {format}");
    }
}
