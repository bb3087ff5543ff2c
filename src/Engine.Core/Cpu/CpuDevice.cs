using NeuronEngine.Model;
using NeuronEngine.Forward;

namespace NeuronEngine.Cpu;

/// <summary>
/// The `cpu` device: the managed, multi-threaded forward pass; tf32/bf16 GEMMs are emulated (inputs rounded as the
/// tensor cores round them), to measure their effect on the results without a GPU.
/// </summary>
public sealed class CpuDevice(Gpt2Weights weights, MatMulPrecision precision = MatMulPrecision.Fp32) : IForwardDevice
{
    private readonly CpuGpt2Forward _forward = new(weights, precision);
    public string Name => "cpu";
    public MatMulPrecision Precision => precision;
    public int DefaultBatchWindows => 8;

    public double[]? LayerMilliseconds
    {
        get => _forward.LayerMilliseconds;
        set => _forward.LayerMilliseconds = value;
    }

    public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, IReadOnlyCollection<int> layers, IMlpActivationSink sink, long firstWindow) =>
        _forward.Run(tokens, windows, seqLen, layers, sink, firstWindow);

    public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, ForwardRequest request) =>
        _forward.Run(tokens, windows, seqLen, request);

    public void Dispose() { }
}
