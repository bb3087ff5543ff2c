using NeuronEngine.Model;
using NeuronEngine.Runtime;

namespace NeuronEngine.Cpu;

/// <summary>The `cpu` device: the managed, multi-threaded forward pass.</summary>
public sealed class CpuDevice(Gpt2Weights weights) : IForwardDevice
{
    private readonly CpuGpt2Forward _forward = new(weights);
    public string Name => "cpu";
    public int DefaultBatchWindows => 8;

    public double[]? LayerMilliseconds
    {
        get => _forward.LayerMilliseconds;
        set => _forward.LayerMilliseconds = value;
    }

    public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, IReadOnlyCollection<int> layers, IMlpActivationSink sink, long firstWindow) =>
        _forward.Run(tokens, windows, seqLen, layers, sink, firstWindow);

    public void Dispose() { }
}
