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

/// <summary>The forward device behind a `--device` name (<see cref="DeviceSelection"/>), and what `engine info` lists.</summary>
public static class DeviceCatalog
{
    /// <summary>
    /// The device <paramref name="name"/> over <paramref name="weights"/>, its four GEMMs in <paramref name="precision"/>
    /// (tf32/bf16: tensor cores on CUDA sm_80+; emulated on `cpu` and on `ilgpu-cpu`; refused on OpenCL and older GPUs
    /// with the reason).
    /// </summary>
    public static IForwardDevice Create(string name, Gpt2Weights weights, MatMulPrecision precision = MatMulPrecision.Fp32) =>
        DeviceSelection.Create<IForwardDevice>(name,
            () => new CpuDevice(weights, precision),
            (kind, context, accelerator) => new IlgpuForwardDevice(kind, context, accelerator, weights, precision),
            tensorCoreEmulation: precision != MatMulPrecision.Fp32);

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
                if (d is CLDevice) continue;   // OpenClDevices below: accepted and refused ones, with sub-group size and fp16
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
        try
        {
            lines.AddRange(OpenClDevices.Describe());
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException)
        {
            lines.Add($"opencl     (ILGPU could not enumerate OpenCL devices: {e.Message})");
        }
        if (!lines.Any(l => l.StartsWith("opencl"))) lines.Add("opencl     none found (no OpenCL platform; ILGPU needs OpenCL C 2.0+ with generic address space)");
        lines.Add($"cpu        managed forward pass, {Environment.ProcessorCount} threads");
        return lines;
    }
}
