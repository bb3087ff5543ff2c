using NeuronEngine.Scoring;

namespace NeuronEngine.Runtime;

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

public static class ScorerCatalog
{
    public static ScorerHandle Create(string device) => device switch
    {
        "cpu" or "auto" => new ScorerHandle("cpu", new CpuBatchScorer()),
        "cuda" or "opencl" or "ilgpu-cpu" => throw new NotSupportedException($"--device {device}: device scoring is not in this build yet; use --device cpu"),
        _ => throw new ArgumentException($"--device: unknown device '{device}' (expected {string.Join("|", DeviceCatalog.Names)})"),
    };
}
