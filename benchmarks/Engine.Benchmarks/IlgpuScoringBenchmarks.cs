using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Scoring;
using NeuronEngine.Scoring;

namespace NeuronEngine.Benchmarks;

/// <summary>
/// <see cref="ScoringBenchmarks"/>' batch (307,200 neurons × 10 sequences × 64 tokens, 1.6 GB of floats) scored by
/// <see cref="IlgpuBatchScorer"/> on the first CUDA device, upload and download included in every call.
/// Without a CUDA device the class lists no cases (nothing is timed).
/// Before measuring, the first 4096 neurons are checked against <see cref="CpuBatchScorer"/> (1e-6 absolute).
/// Run: dotnet run -c Release --project benchmarks/Engine.Benchmarks -- --filter '*IlgpuScoreAllNeurons*'
/// </summary>
[MemoryDiagnoser]
public class IlgpuScoringBenchmarks
{
    private const int CheckedNeurons = 4096;

    public static IEnumerable<string> Devices() => ForwardBenchmarks.Devices().Where(d => d == "cuda");

    [ParamsSource(nameof(Devices))] public string Device { get; set; } = "cuda";

    private Context? _context;
    private Accelerator? _accelerator;
    private IlgpuBatchScorer? _scorer;
    private ScoringBatch? _batch;

    [GlobalSetup]
    public void Setup()
    {
        var (context, accelerator) = IlgpuContexts.TryCreateCuda()
            ?? throw new InvalidOperationException("IlgpuScoreAllNeurons needs a CUDA device");
        (_context, _accelerator) = (context, accelerator);
        Console.WriteLine($"// IlgpuScoreAllNeurons on {accelerator.Name}");
        _scorer = new IlgpuBatchScorer(accelerator);
        _batch = ScoringBenchmarks.CreateBatch();
        CheckAgainstCpu(_scorer, _batch);
    }

    [Benchmark]
    public ScoreTriple[] IlgpuScoreAllNeurons() => _scorer!.Score(_batch!);

    [GlobalCleanup]
    public void Cleanup()
    {
        _scorer?.Dispose();
        _accelerator?.Dispose();
        _context?.Dispose();
    }

    private static void CheckAgainstCpu(IlgpuBatchScorer scorer, ScoringBatch batch)
    {
        int neurons = Math.Min(CheckedNeurons, batch.NeuronCount);
        int tokens = batch.NeuronOffsets[neurons];
        var head = new ScoringBatch(batch.TrueActivations[..tokens], batch.ExpectedActivations[..tokens],
            batch.NeuronOffsets[..(neurons + 1)], batch.TopTokenCounts[..neurons]);
        var device = scorer.Score(head);
        var cpu = new CpuBatchScorer().Score(head);
        double worst = 0;
        for (int i = 0; i < cpu.Length; i++)
        {
            worst = Math.Max(worst, Difference(cpu[i].EvCorrelation, device[i].EvCorrelation));
            worst = Math.Max(worst, Difference(cpu[i].RSquared, device[i].RSquared));
            worst = Math.Max(worst, Difference(cpu[i].AbsoluteDevExplained, device[i].AbsoluteDevExplained));
        }
        if (!(worst <= 1e-6))
            throw new InvalidOperationException($"device scores differ from the CPU scorer's by {worst} (> 1e-6)");
        Console.WriteLine($"// IlgpuScoreAllNeurons: first {neurons} neurons agree with the CPU scorer (max |Δ| {worst:E1})");
    }

    private static double Difference(double? a, double? b) =>
        a.HasValue != b.HasValue ? double.PositiveInfinity : a is double x && b is double y ? Math.Abs(x - y) : 0;
}
