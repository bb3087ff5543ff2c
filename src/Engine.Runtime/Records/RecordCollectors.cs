using NeuronEngine.Records;
using NeuronEngine.Forward;

namespace NeuronEngine.Runtime.Records;

/// <summary>Picks the record collector that suits a forward device: the device collector on ILGPU devices (state stays on the device), the managed one on `cpu`.</summary>
public static class RecordCollectors
{
    public static Func<RecordShape, IReadOnlyDictionary<int, float[]>, IRecordCollector> For(IForwardDevice device) => device switch
    {
        IlgpuForwardDevice ilgpu => (shape, boundaries) => new IlgpuRecordCollector(ilgpu.Accelerator, shape, boundaries),
        _ => (shape, boundaries) => new CpuRecordCollectorAdapter(new CpuRecordCollector(shape, boundaries)),
    };

    /// <summary>The pilot pass's window-max sink: on ILGPU devices the maxima are computed on the device.</summary>
    public static Func<int, QuantileBoundaries.PilotSink> PilotFor(IForwardDevice device) => device switch
    {
        IlgpuForwardDevice ilgpu => neurons => new IlgpuPilotSink(ilgpu.Accelerator, neurons),
        _ => neurons => new QuantileBoundaries.PilotSink(neurons),
    };
}
