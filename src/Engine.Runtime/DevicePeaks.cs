namespace NeuronEngine.Runtime;

/// <summary>Published fp32 (CUDA-core) peaks, to report a benchmark as a fraction of what the device can do.</summary>
public static class DevicePeaks
{
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
