using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Ops;

namespace NeuronEngine.Benchmarks;

/// <summary>
/// LayerNorm and causal attention kernels, one launch per invocation, synchronised inside the method so the time is
/// the kernel's (plus one launch and one synchronise). Devices:
/// <list type="bullet">
/// <item>cuda: GPT-2 small shapes — LayerNorm 4096×768 (B·T = 64·64 rows), attention B = 64, T = 64, d = 768,
/// 12 heads. Listed only when a CUDA device is present, so the class runs (and skips CUDA) on a machine without one.</item>
/// <item>cpu-tiny: ILGPU's CPU accelerator on tiny shapes (LayerNorm 16×96, attention B = 1, T = 16, d = 32,
/// 2 heads), so the benchmark itself is exercised everywhere. The CPU accelerator is a debugging emulator (one OS
/// thread per GPU thread): its numbers say nothing about kernel speed.</item>
/// </list>
/// Run: dotnet run -c Release --project benchmarks/Engine.Benchmarks -- --filter '*LayerNormAttention*'
/// </summary>
[MemoryDiagnoser(false)]
public class LayerNormAttentionBenchmarks
{
    private Context? _context;
    private Accelerator? _accelerator;
    private LayerNormOp? _layerNorm;
    private AttentionOp? _attention;
    private MemoryBuffer1D<float, Stride1D.Dense>? _x, _y, _gamma, _beta, _qkv, _out;
    private int _rows, _d, _batch, _seqLen, _attnD, _heads;

    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu-tiny";

    /// <summary>The devices present: cpu-tiny always, cuda when ILGPU finds a CUDA device.</summary>
    public static IEnumerable<string> Devices()
    {
        yield return "cpu-tiny";
        if (IlgpuContexts.TryCreateCuda() is { } cuda)
        {
            cuda.Accelerator.Dispose();
            cuda.Context.Dispose();
            yield return "cuda";
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        if (Device == "cuda")
        {
            (_context, _accelerator) = IlgpuContexts.TryCreateCuda() ?? throw new InvalidOperationException("no CUDA device");
            (_rows, _d, _batch, _seqLen, _attnD, _heads) = (4096, 768, 64, 64, 768, 12);
        }
        else
        {
            (_context, _accelerator) = IlgpuContexts.CreateCpu();
            (_rows, _d, _batch, _seqLen, _attnD, _heads) = (16, 96, 1, 16, 32, 2);
        }
        var rng = new Random(7);
        float[] Random(long n, float scale) => Enumerable.Range(0, checked((int)n)).Select(_ => (rng.NextSingle() - 0.5f) * scale).ToArray();
        _x = _accelerator.Allocate1D(Random((long)_rows * _d, 4));
        _y = _accelerator.Allocate1D<float>((long)_rows * _d);
        _gamma = _accelerator.Allocate1D(Random(_d, 1));
        _beta = _accelerator.Allocate1D(Random(_d, 1));
        _qkv = _accelerator.Allocate1D(Random((long)_batch * _seqLen * 3 * _attnD, 2));
        _out = _accelerator.Allocate1D<float>((long)_batch * _seqLen * _attnD);
        _layerNorm = new LayerNormOp(_accelerator);
        _attention = new AttentionOp(_accelerator);
        LayerNorm(); // compile both kernels outside the measurement
        Attention();
    }

    [Benchmark]
    public void LayerNorm()
    {
        var stream = _accelerator!.DefaultStream;
        _layerNorm!.Launch(stream, _x!.View, _y!.View, _gamma!.View, _beta!.View, _rows, _d, 1e-5f);
        stream.Synchronize();
    }

    [Benchmark]
    public void Attention()
    {
        var stream = _accelerator!.DefaultStream;
        _attention!.Launch(stream, _qkv!.View, _out!.View, _batch, _seqLen, _attnD, _heads);
        stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var buffer in new[] { _x, _y, _gamma, _beta, _qkv, _out }) buffer?.Dispose();
        _accelerator?.Dispose();
        _context?.Dispose();
    }
}
