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

/// <summary>`--device` for scoring: `cpu` (managed, SIMD), or the ILGPU scorer on cuda / opencl / ilgpu-cpu; `auto` prefers CUDA.</summary>
public static class ScorerCatalog
{
    public static ScorerHandle Create(string device)
    {
        switch (device)
        {
            case "cpu":
                return new ScorerHandle("cpu", new CpuBatchScorer());
            case "ilgpu-cpu":
                return OnDevice(device, IlgpuContexts.CreateCpu());
            case "cuda":
                return OnDevice(device, IlgpuContexts.TryCreateCuda()
                    ?? throw new NotSupportedException("--device cuda: no CUDA device found (is an NVIDIA driver with libcuda.so installed?)"));
            case "opencl":
                return OnDevice(device, IlgpuContexts.TryCreateOpenCL()
                    ?? throw new NotSupportedException("--device opencl: no OpenCL device with OpenCL C 2.0 or later found"));
            case "auto":
                return IlgpuContexts.TryCreateCuda() is { } cuda ? OnDevice("cuda", cuda) : new ScorerHandle("cpu", new CpuBatchScorer());
            default:
                throw new ArgumentException($"--device: unknown device '{device}' (expected {string.Join("|", DeviceCatalog.Names)})");
        }
    }

    private static ScorerHandle OnDevice(string name, (ILGPU.Context Context, ILGPU.Runtime.Accelerator Accelerator) device)
    {
        var scorer = new IlgpuBatchScorer(device.Accelerator);
        return new ScorerHandle(name, scorer, scorer, device.Accelerator, device.Context);
    }
}
