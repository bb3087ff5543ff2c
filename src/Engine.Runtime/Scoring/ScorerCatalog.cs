using NeuronEngine.Scoring;

namespace NeuronEngine.Runtime.Scoring;

/// <summary>The batched scorer behind a `--device` name, with whatever it holds on the device.</summary>
public sealed class ScorerHandle(string name, IBatchScorer scorer, params IDisposable[] owned) : IDisposable
{
    public string Name { get; } = name;
    public IBatchScorer Scorer { get; } = scorer;

    public void Dispose()
    {
        foreach (var o in owned) o.Dispose();
    }
}

/// <summary>`--device` for scoring (<see cref="DeviceSelection"/>): `cpu` (managed, SIMD), or the ILGPU scorer on cuda / opencl / ilgpu-cpu.</summary>
public static class ScorerCatalog
{
    public static ScorerHandle Create(string device) => DeviceSelection.Create(device,
        () => new ScorerHandle("cpu", new CpuBatchScorer()),
        (kind, context, accelerator) =>
        {
            var scorer = new IlgpuBatchScorer(accelerator);
            return new ScorerHandle(kind, scorer, scorer, accelerator, context);
        });
}
