using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime.Ops;

/// <summary>
/// Host side of <see cref="ElementwiseKernels"/>: launches on a stream. The widening kernels are compiled on first use,
/// so a model stored in F32 never compiles F16 code (a device without fp16 would refuse ILGPU's Half), and F16 is
/// decoded as the accelerator's plan says (<see cref="AcceleratorPlan.HardwareHalf"/>).
/// </summary>
public sealed class ElementwiseOps(Accelerator accelerator)
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>> _add = KernelCatalog.AddInPlace.Load(accelerator);
    private Action<AcceleratorStream, Index1D, ArrayView<ushort>, ArrayView<float>>? _widenF16, _widenBF16;

    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int>? _gather;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>? _patch;

    /// <summary>destination[e·rowLength + r] = source[map[e]·rowLength + r] for the map's elements (loaded on first use).</summary>
    public void GatherRows(AcceleratorStream stream, ArrayView<float> source, ArrayView<float> destination, ArrayView<int> map, int elements, int rowLength)
    {
        _gather ??= KernelCatalog.GatherRows.Load(accelerator);
        _gather(stream, elements * rowLength, source, destination, map, rowLength);
    }

    /// <summary>The patches of one layer on h [elements, seqLen, width] (loaded on first use).</summary>
    public void PatchNeurons(AcceleratorStream stream, ArrayView<float> h, ArrayView<int> neurons, ArrayView<float> values, int elements, int seqLen, int width)
    {
        _patch ??= KernelCatalog.PatchNeurons.Load(accelerator);
        _patch(stream, elements * seqLen, h, neurons, values, seqLen, width);
    }

    /// <summary>x += y over the first <paramref name="count"/> elements.</summary>
    public void AddInPlace(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int count) =>
        _add(stream, count, x.SubView(0, count), y.SubView(0, count));

    /// <summary>Widens raw 16-bit weights to float32 on the device (no host copy of the converted tensor).</summary>
    public void Widen(AcceleratorStream stream, ArrayView<ushort> source, WeightFormat format, ArrayView<float> destination)
    {
        var widen = format switch
        {
            WeightFormat.F16 => _widenF16 ??= (AcceleratorPlan.For(accelerator).HardwareHalf ? KernelCatalog.WidenF16 : KernelCatalog.WidenF16Bits).Load(accelerator),
            WeightFormat.BF16 => _widenBF16 ??= KernelCatalog.WidenBF16.Load(accelerator),
            _ => throw new ArgumentException($"cannot widen {format}"),
        };
        widen(stream, (int)source.Length, source, destination);
    }
}
