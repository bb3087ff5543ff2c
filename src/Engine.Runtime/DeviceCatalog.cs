using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using NeuronEngine.Cpu;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Forward;

namespace NeuronEngine.Runtime;

/// <summary>
/// The `--device` names: `cuda` and `opencl` (our ILGPU kernels on a GPU), `ilgpu-cpu` (the same kernels on
/// ILGPU's CPU accelerator — a debugging emulator, slow), `cpu` (the managed forward pass), and `auto`, which
/// prefers CUDA, then OpenCL, then `cpu`.
/// </summary>
public static class DeviceCatalog
{
    public static readonly string[] Names = ["auto", "cuda", "opencl", "ilgpu-cpu", "cpu"];

    /// <summary>
    /// The device <paramref name="name"/> over <paramref name="weights"/>, its four GEMMs in <paramref name="precision"/>
    /// (tf32/bf16: tensor cores on CUDA sm_80+; emulated on `cpu` and on `ilgpu-cpu`, whose accelerator then has
    /// 32-lane warps, the layout of mma.sync's fragments; refused on OpenCL and older GPUs with the reason).
    /// </summary>
    public static IForwardDevice Create(string name, Gpt2Weights weights, MatMulPrecision precision = MatMulPrecision.Fp32)
    {
        switch (name)
        {
            case "cpu":
                return new CpuDevice(weights, precision);
            case "ilgpu-cpu":
            {
                var (context, accelerator) = precision == MatMulPrecision.Fp32 ? IlgpuContexts.CreateCpu()
                    : IlgpuContexts.CreateCpu(warpSize: TensorCoreGemmKernel.WarpSize, warpsPerGroup: 8);
                return Ilgpu(name, context, accelerator, weights, precision);
            }
            case "cuda":
            {
                var (context, accelerator) = IlgpuContexts.TryCreateCuda()
                    ?? throw new NotSupportedException($"--device cuda: no CUDA device found: {CudaDriverProbe.Explain(IlgpuContexts.LastFailure)}");
                return Ilgpu(name, context, accelerator, weights, precision);
            }
            case "opencl":
            {
                var (context, accelerator) = IlgpuContexts.TryCreateOpenCL()
                    ?? throw new NotSupportedException("--device opencl: no OpenCL device with OpenCL C 2.0 or later found");
                return Ilgpu(name, context, accelerator, weights, precision);
            }
            case "auto":
                if (IlgpuContexts.TryCreateCuda() is var (cc, ca)) return Ilgpu("cuda", cc, ca, weights, precision);
                if (IlgpuContexts.TryCreateOpenCL() is var (oc, oa)) return Ilgpu("opencl", oc, oa, weights, precision);
                return new CpuDevice(weights, precision);
            default:
                throw new ArgumentException($"--device: unknown device '{name}' (expected {string.Join("|", Names)})");
        }
    }

    /// <summary>An ILGPU forward device; the accelerator and context are disposed if it cannot be built (e.g. a precision the device lacks).</summary>
    private static IlgpuForwardDevice Ilgpu(string name, Context context, Accelerator accelerator, Gpt2Weights weights, MatMulPrecision precision)
    {
        try
        {
            return new IlgpuForwardDevice(name, context, accelerator, weights, precision);
        }
        catch
        {
            accelerator.Dispose();
            context.Dispose();
            throw;
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
