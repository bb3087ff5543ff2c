using BenchmarkDotNet.Attributes;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Forward;

namespace NeuronEngine.Benchmarks;

/// <summary>
/// A whole forward pass (all 12 layers of synthetic gpt2 weights, no sink work) per device available here:
/// `cpu` always, `cuda` where a CUDA device exists; batch × 64-token windows of random tokens.
/// `ilgpu-cpu` is left out: ILGPU's CPU accelerator is an emulator for tests, not a device to time.
/// </summary>
[MemoryDiagnoser]
public class ForwardBenchmarks
{
    public static IEnumerable<string> Devices()
    {
        yield return "cpu";
        if (IlgpuContexts.TryCreateCuda() is var (context, accelerator))
        {
            accelerator.Dispose();
            context.Dispose();
            yield return "cuda";
        }
    }

    [ParamsSource(nameof(Devices))] public string Device { get; set; } = "cpu";

    private Gpt2Weights _weights = null!;
    private IForwardDevice _device = null!;
    private int[] _tokens = [];
    private int[] _layers = [];
    private int _batch;
    private const int SeqLen = 64;

    [GlobalSetup]
    public void Setup()
    {
        (_weights, _device, _tokens, _layers, _batch) = SyntheticForwardSetup.Open(Device);
        _device.Run(_tokens, _batch, SeqLen, _layers, NullActivationSink.Instance, 0); // compile kernels, upload weights
    }

    /// <summary>One pass; tokens/s = batch·64 / the reported time (Run synchronises before returning).</summary>
    [Benchmark]
    public void Forward() => _device.Run(_tokens, _batch, SeqLen, _layers, NullActivationSink.Instance, 0);

    [GlobalCleanup]
    public void Cleanup()
    {
        _device.Dispose();
        _weights.Dispose();
    }
}
