using ILGPU;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using NeuronEngine.Cpu;
using NeuronEngine.Model;

namespace NeuronEngine.Runtime;

/// <summary>
/// The `--device` names: `cuda` and `opencl` (our ILGPU kernels on a GPU), `ilgpu-cpu` (the same kernels on
/// ILGPU's CPU accelerator — a debugging emulator, slow), `cpu` (the managed forward pass), and `auto`, which
/// prefers CUDA, then OpenCL, then `cpu`.
/// </summary>
public static class DeviceCatalog
{
    public static readonly string[] Names = ["auto", "cuda", "opencl", "ilgpu-cpu", "cpu"];

    public static IForwardDevice Create(string name, Gpt2Weights weights)
    {
        switch (name)
        {
            case "cpu":
                return new CpuDevice(weights);
            case "ilgpu-cpu":
            {
                var (context, accelerator) = IlgpuContexts.CreateCpu();
                return new IlgpuForwardDevice(name, context, accelerator, weights);
            }
            case "cuda":
            {
                var (context, accelerator) = IlgpuContexts.TryCreateCuda()
                    ?? throw new NotSupportedException($"--device cuda: no CUDA device found: {CudaDriverProbe.Explain(IlgpuContexts.LastFailure)}");
                return new IlgpuForwardDevice(name, context, accelerator, weights);
            }
            case "opencl":
            {
                var (context, accelerator) = IlgpuContexts.TryCreateOpenCL()
                    ?? throw new NotSupportedException("--device opencl: no OpenCL device with OpenCL C 2.0 or later found");
                return new IlgpuForwardDevice(name, context, accelerator, weights);
            }
            case "auto":
                if (IlgpuContexts.TryCreateCuda() is var (cc, ca)) return new IlgpuForwardDevice("cuda", cc, ca, weights);
                if (IlgpuContexts.TryCreateOpenCL() is var (oc, oa)) return new IlgpuForwardDevice("opencl", oc, oa, weights);
                return new CpuDevice(weights);
            default:
                throw new ArgumentException($"--device: unknown device '{name}' (expected {string.Join("|", Names)})");
        }
    }

    /// <summary>One line per device found on this machine, for `engine info`.</summary>
    public static IEnumerable<string> Describe()
    {
        var lines = new List<string>();
        IlgpuContexts.InstallNativeResolver();
        try
        {
            using var context = Context.Create(b => b.AllAccelerators());
            foreach (var d in context.Devices)
            {
                string kind = d switch { CudaDevice => "cuda", CLDevice => "opencl", CPUDevice => "ilgpu-cpu", _ => d.AcceleratorType.ToString() };
                string memory = d is CPUDevice ? "host memory" : $"{d.MemorySize / (1 << 20):N0} MiB";
                string note = d is CPUDevice ? " — ILGPU's CPU emulator, for tests" : "";
                lines.Add($"{kind,-10} {d.Name} ({memory}, up to {d.MaxNumThreadsPerGroup} threads/group){note}");
            }
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException)
        {
            lines.Add($"(ILGPU could not enumerate devices: {e.Message})");
        }
        if (!lines.Any(l => l.StartsWith("cuda"))) lines.Add($"cuda       none found: {CudaDriverProbe.Explain()}");
        if (!lines.Any(l => l.StartsWith("opencl"))) lines.Add("opencl     none found (needs OpenCL C 2.0+)");
        lines.Add($"cpu        managed forward pass, {Environment.ProcessorCount} threads");
        return lines;
    }
}
