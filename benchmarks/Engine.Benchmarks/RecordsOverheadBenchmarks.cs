using BenchmarkDotNet.Attributes;
using NeuronEngine.Model;
using NeuronEngine.Records;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Records;
using NeuronEngine.Forward;

namespace NeuronEngine.Benchmarks;

/// <summary>
/// What collecting records costs on top of a plain forward pass: all 12 layers of synthetic gpt2, 64-token windows
/// of random tokens, `Sink = none` (the forward alone) versus `Sink = records` (top 20, random 20, 5 × 5 quantile
/// samples and moments of all 36,864 neurons — the managed collector on `cpu`, the device collector on `cuda`).
/// Overhead = records / none − 1 (goal on a GPU: ≤ 10%). Devices: `cpu` always, `cuda` where
/// IlgpuContexts.TryCreateCuda() finds one (skipped otherwise).
/// </summary>
[MemoryDiagnoser]
public class RecordsOverheadBenchmarks
{
    public static IEnumerable<string> Devices() => ForwardBenchmarks.Devices();

    [ParamsSource(nameof(Devices))] public string Device { get; set; } = "cpu";
    [Params("none", "records")] public string Sink { get; set; } = "none";

    private const int SeqLen = 64;
    private Gpt2Weights _weights = null!;
    private IForwardDevice _device = null!;
    private IRecordCollector? _collector;
    private int[] _tokens = [];
    private int[] _layers = [];
    private int _batch;
    private long _nextWindow;

    [GlobalSetup]
    public void Setup()
    {
        (_weights, _device, _tokens, _layers, _batch) = SyntheticForwardSetup.Open(Device);
        if (Sink == "records")
        {
            var c = _weights.Config;
            var shape = new RecordShape(c.DMlp, SeqLen, TopK: 20, RandomCount: 20, PerBand: 5, Seed: 0);
            // Boundaries spread over the activations' range so every band receives windows.
            var boundaries = _layers.ToDictionary(l => l, _ => Enumerable.Range(0, c.DMlp).SelectMany(_ => new[] { 0.5f, 1f, 1.5f, 2f }).ToArray());
            _collector = RecordCollectors.For(_device)(shape, boundaries);
        }
        Forward(); // compile kernels, upload weights, fill the reservoirs once
    }

    /// <summary>One batch; window indices advance so the reservoirs keep seeing new windows.</summary>
    [Benchmark]
    public void Forward()
    {
        _device.Run(_tokens, _batch, SeqLen, _layers, (IMlpActivationSink?)_collector ?? NullActivationSink.Instance, _nextWindow);
        _nextWindow += _batch;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _collector?.Dispose();
        _device.Dispose();
        _weights.Dispose();
    }
}
