using NeuronEngine.Forward;
namespace NeuronEngine.Runtime;

/// <summary>Published fp32 (CUDA-core) and dense tensor-core peaks, to report a benchmark as a fraction of what the device can do.</summary>
public static class DevicePeaks
{
    /// <summary>Dense tensor-core peaks (TF32, bf16; no sparsity) from NVIDIA's data sheets (SXM parts).</summary>
    private static readonly (string NamePart, double Tf32, double Bf16)[] Tensor =
    [
        ("H200", 494.7, 989.4), ("H100 SXM", 494.7, 989.4), ("H100 PCIe", 378.0, 756.0), ("H100", 378.0, 756.0),
        ("A100", 156.0, 312.0), ("L40S", 183.0, 362.1), ("L4", 60.0, 121.0),
    ];

    /// <summary>The peak of a GEMM precision on a known GPU (fp32: CUDA cores), else null.</summary>
    public static double? TeraFlops(IForwardDevice device, NeuronEngine.Forward.MatMulPrecision precision)
    {
        if (precision == NeuronEngine.Forward.MatMulPrecision.Fp32) return Fp32TeraFlops(device);
        if (device is not IlgpuForwardDevice g || g.Accelerator.AcceleratorType != ILGPU.Runtime.AcceleratorType.Cuda) return null;
        foreach (var (part, tf32, bf16) in Tensor)
            if (g.Accelerator.Name.Contains(part, StringComparison.OrdinalIgnoreCase))
                return precision == NeuronEngine.Forward.MatMulPrecision.Tf32 ? tf32 : bf16;
        return null;
    }

    private static readonly (string NamePart, double TeraFlops)[] Fp32 =
    [
        ("H200", 66.9), ("H100 SXM", 66.9), ("H100 PCIe", 51.2), ("H100", 51.2), ("A100", 19.5), ("L40S", 91.6),
        ("L4", 30.3), ("A10G", 31.2), ("A10", 31.2), ("RTX 4090", 82.6), ("RTX 3090", 35.6), ("V100", 15.7), ("T4", 8.1),
    ];

    public static string DeviceName(IForwardDevice device) =>
        device is IlgpuForwardDevice g ? g.Accelerator.Name : $"managed CPU, {Environment.ProcessorCount} threads";

    /// <summary>The fp32 peak in TFLOP/s for a known GPU, else null (CPUs and unknown devices).</summary>
    public static double? Fp32TeraFlops(IForwardDevice device)
    {
        if (device is not IlgpuForwardDevice g || g.Accelerator.AcceleratorType == ILGPU.Runtime.AcceleratorType.CPU) return null;
        foreach (var (part, tf) in Fp32)
            if (g.Accelerator.Name.Contains(part, StringComparison.OrdinalIgnoreCase)) return tf;
        return null;
    }
}
