using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace NeuronEngine.Runtime;

/// <summary>
/// Creates ILGPU contexts and accelerators for the `--device` names. Kernels run with O2 optimisation and
/// exact math (no fast-math: GELU and softmax must match the CPU reference).
/// </summary>
public static class IlgpuContexts
{
    private static int _resolverInstalled;

    /// <summary>
    /// ILGPU asks for the CUDA driver by a name some containers lack (only libcuda.so.1 exists there) and
    /// OpenCL likewise: resolve both to the versioned sonames on Linux.
    /// </summary>
    internal static void InstallNativeResolver()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref _resolverInstalled, 1) == 1) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, (name, assembly, path) =>
            {
                string[] candidates = name.Contains("cuda", StringComparison.OrdinalIgnoreCase) ? ["libcuda.so", "libcuda.so.1"]
                    : name.Contains("opencl", StringComparison.OrdinalIgnoreCase) ? ["libOpenCL.so", "libOpenCL.so.1"] : [];
                foreach (var c in candidates)
                    if (NativeLibrary.TryLoad(c, assembly, path, out var handle)) return handle;
                return IntPtr.Zero;
            });
        }
        catch (InvalidOperationException)
        {
            // ILGPU (or the host) installed a resolver already; keep theirs.
        }
    }

    /// <summary>
    /// ILGPU's CPU accelerator, set up the way its notes found fastest for tests: warp 4, up to 256 threads per
    /// group, one multiprocessor, Parallel mode passed explicitly (Auto turns Sequential under a debugger).
    /// </summary>
    public static (Context Context, Accelerator Accelerator) CreateCpu(int warpSize = 4, int warpsPerGroup = 64)
    {
        var device = new CPUDevice(warpSize, warpsPerGroup, 1);
        var context = Context.Create(b => Configure(b).CPU(device));
        var accelerator = context.GetCPUDevice(0).CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
        return (context, accelerator);
    }

    /// <summary>The first CUDA device, or null where there is none (no GPU, no driver).</summary>
    public static (Context Context, Accelerator Accelerator)? TryCreateCuda() =>
        TryCreateFirst(b => b.Cuda(), AcceleratorType.Cuda);

    /// <summary>
    /// A context configured as <see cref="TryCreateCuda"/>'s (same optimisation level and math mode), for compiling
    /// kernels to PTX with ILGPU's PTX backend on a machine without a GPU (`engine ptx`).
    /// </summary>
    public static Context CreateCudaCompileContext()
    {
        InstallNativeResolver();
        return Context.Create(b => Configure(b).Cuda());
    }

    /// <summary>The settings every context here shares: O2, default (exact) math.</summary>
    private static Context.Builder Configure(Context.Builder b) => b.Optimize(OptimizationLevel.O2);

    /// <summary>The first OpenCL device ILGPU accepts (OpenCL C 2.0+), or null.</summary>
    public static (Context Context, Accelerator Accelerator)? TryCreateOpenCL() =>
        TryCreateFirst(b => b.OpenCL(), AcceleratorType.OpenCL);

    /// <summary>
    /// What made the last TryCreateCuda/TryCreateOpenCL return null when it was an exception (ILGPU's enumeration
    /// itself swallows its own; <see cref="CudaDriverProbe"/> digs those out).
    /// </summary>
    public static string? LastFailure { get; private set; }

    private static (Context Context, Accelerator Accelerator)? TryCreateFirst(
        Func<Context.Builder, Context.Builder> backend, AcceleratorType type)
    {
        InstallNativeResolver();
        try
        {
            var context = Context.Create(b => backend(Configure(b)));
            var found = context.Devices.Where(d => d.AcceleratorType == type).ToList();
            if (found.Count == 0) { context.Dispose(); return null; }
            return (context, found[0].CreateAccelerator(context));
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException or NotSupportedException)
        {
            LastFailure = $"{e.GetType().Name}: {(e.InnerException ?? e).Message}";
            return null;
        }
    }
}
