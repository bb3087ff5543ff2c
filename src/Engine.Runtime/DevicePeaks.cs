using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NeuronEngine.Forward;

namespace NeuronEngine.Runtime;

/// <summary>Published fp32 (CUDA-core) and dense tensor-core peaks, to report a benchmark as a fraction of what the device can do.</summary>
public static class DevicePeaks
{
    /// <summary>A GPU's published peaks in TFLOP/s: fp32 on the CUDA cores, TF32 and bf16 dense on the tensor cores (no sparsity).</summary>
    public sealed record Peaks(double Fp32, double? Tf32, double? Bf16);

    /// <summary>
    /// Parts of the names the driver reports, most specific first (the first contained in the name wins), with NVIDIA's
    /// data-sheet figures (tensor figures there are "with sparsity": halved here). An H100 SXM5 calls itself
    /// "NVIDIA H100 80GB HBM3", a PCIe card "NVIDIA H100 PCIe", the NVL parts "… NVL"; GH200 holds an H100 SXM-class
    /// GPU; H200 SXM has H100 SXM's compute (H200 NVL: H100 NVL's).
    /// </summary>
    private static readonly (string NamePart, Peaks Peaks)[] Known =
    [
        ("H200 NVL", new(60.0, 417.5, 835.5)),
        ("H100 NVL", new(60.0, 417.5, 835.5)),
        ("H100 PCIe", new(51.2, 378.0, 756.0)),
        ("GH200", new(66.9, 494.7, 989.4)),
        ("H200", new(66.9, 494.7, 989.4)),
        ("H100 SXM", new(66.9, 494.7, 989.4)),
        ("H100 80GB HBM3", new(66.9, 494.7, 989.4)),
        ("A100", new(19.5, 156.0, 312.0)),
        ("L40S", new(91.6, 183.0, 362.1)),
        ("L40", new(90.5, 90.5, 181.0)),
        ("L4", new(30.3, 60.0, 121.0)),
        ("A10G", new(31.2, null, null)),
        ("A10", new(31.2, 62.5, 125.0)),
        ("RTX 4090", new(82.6, null, null)),
        ("RTX 3090", new(35.6, null, null)),
        ("V100", new(15.7, null, null)),
        ("T4", new(8.1, null, null)),
    ];

    /// <summary>The published peaks of a GPU by the name its driver reports, or null for a name not in the table.</summary>
    public static Peaks? ForName(string name)
    {
        foreach (var (part, peaks) in Known)
            if (name.Contains(part, StringComparison.OrdinalIgnoreCase)) return peaks;
        return null;
    }

    /// <summary>
    /// The fp32 peak of a CUDA device from what it reports: multiprocessors × fp32 lanes per multiprocessor × 2 (an FMA)
    /// × the maximum (boost) clock. Lanes per multiprocessor by compute capability: 64 on 6.0, 7.x and 8.0 (GP100, Volta,
    /// Turing, GA100), 128 on 6.1/6.2, 8.6–8.9 and 9.x (GA10x, Ada, Hopper); null for others. An H100 SXM5 (132 SMs,
    /// 1,980 MHz, 9.0) gives 66.9 TFLOP/s, its data sheet's figure.
    /// </summary>
    public static double? Fp32FromClock(int multiprocessors, int clockKiloHertz, int major, int minor)
    {
        int? lanes = (major, minor) switch
        {
            (6, 0) or (7, _) or (8, 0) => 64,
            (6, 1) or (6, 2) or (8, >= 6) or (9, _) => 128,
            _ => null,
        };
        return lanes is int l && multiprocessors > 0 && clockKiloHertz > 0 ? multiprocessors * l * 2.0 * clockKiloHertz * 1e3 / 1e12 : null;
    }

    /// <summary>The peak of a GEMM precision on a known GPU (fp32: CUDA cores), else null.</summary>
    public static double? TeraFlops(IForwardDevice device, MatMulPrecision precision)
    {
        if (precision == MatMulPrecision.Fp32) return Fp32TeraFlops(device);
        if (device is not IlgpuForwardDevice g || g.Accelerator.AcceleratorType != AcceleratorType.Cuda) return null;
        var peaks = ForName(g.Accelerator.Name);
        return precision == MatMulPrecision.Tf32 ? peaks?.Tf32 : peaks?.Bf16;
    }

    public static string DeviceName(IForwardDevice device) =>
        device is IlgpuForwardDevice g ? g.Accelerator.Name : $"managed CPU, {Environment.ProcessorCount} threads";

    /// <summary>
    /// The fp32 peak in TFLOP/s of a GPU: its data sheet's where the name is known, else (CUDA) from its multiprocessors
    /// and clock; null for CPUs and other devices.
    /// </summary>
    public static double? Fp32TeraFlops(IForwardDevice device)
    {
        if (device is not IlgpuForwardDevice g || g.Accelerator.AcceleratorType == AcceleratorType.CPU) return null;
        if (ForName(g.Accelerator.Name) is { } known) return known.Fp32;
        return g.Accelerator is CudaAccelerator cuda && cuda.Architecture is { } arch
            ? Fp32FromClock(cuda.NumMultiprocessors, cuda.ClockRate, arch.Major, arch.Minor)
            : null;
    }
}
