using System.Runtime.InteropServices;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace NeuronEngine.Runtime;

/// <summary>
/// The PTX of every <see cref="KernelCatalog"/> entry, compiled as the CUDA accelerator compiles it (entry point
/// and specialisation from the catalogue): offline by ILGPU's PTX backend (no GPU or driver needed), or by loading
/// each kernel on a real <see cref="CudaAccelerator"/>, which also gives the occupancy the driver computes.
/// </summary>
public static class KernelPtx
{
    /// <param name="GroupSize">Threads per group of the reported launch (auto-grouped: ILGPU's choice on a device, else null).</param>
    /// <param name="MaxGroupsPerMultiprocessor">The CUDA occupancy API's figure (device only).</param>
    /// <param name="Registers">Registers per thread of the module the driver built (device only).</param>
    /// <param name="LocalBytes">Local memory (spills, stack) per thread in that module (device only).</param>
    public sealed record Result(
        CatalogKernel Kernel, string Ptx, int? GroupSize, int DynamicSharedBytes,
        int? MaxGroupsPerMultiprocessor = null, int? Registers = null, int? LocalBytes = null);

    /// <summary>Offline: ILGPU's PTX backend for <paramref name="architecture"/> at PTX ISA <paramref name="isa"/>.</summary>
    public static IEnumerable<Result> CompileOffline(CudaArchitecture architecture, CudaInstructionSet isa)
    {
        using var context = IlgpuContexts.CreateCudaCompileContext();
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, isa, null);
        foreach (var kernel in KernelCatalog.All)
        {
            var compiled = (PTXCompiledKernel)backend.Compile(kernel.EntryPoint, kernel.Specialization);
            yield return new Result(kernel, compiled.PTXAssembly, kernel.Report.GroupSize, kernel.Report.DynamicSharedBytes);
        }
    }

    /// <summary>
    /// On a device: loads every entry as the Ops do and returns the PTX the accelerator compiled (its own ISA and
    /// architecture), the group size (auto-grouped: the one ILGPU chose) and the driver's occupancy and register count.
    /// </summary>
    public static IEnumerable<Result> LoadOnDevice(CudaAccelerator accelerator)
    {
        foreach (var kernel in KernelCatalog.All)
        {
            var loaded = kernel.LoadKernel(accelerator, out var info);
            string ptx = ((PTXCompiledKernel)loaded.CompiledKernel).PTXAssembly;
            int group = kernel.Report.GroupSize ?? info?.MinGroupSize ?? accelerator.WarpSize;
            int blocks = accelerator.EstimateMaxActiveGroupsPerMultiprocessor(loaded, group, kernel.Report.DynamicSharedBytes);
            IntPtr function = loaded is CudaKernel cuda ? cuda.FunctionPtr : IntPtr.Zero;
            yield return new Result(kernel, ptx, group, kernel.Report.DynamicSharedBytes, blocks,
                FunctionAttribute(function, NumRegs), FunctionAttribute(function, LocalSizeBytes));
        }
    }

    // CUfunction_attribute values (cuda.h); ILGPU 1.5.3 does not wrap cuFuncGetAttribute.
    private const int LocalSizeBytes = 3, NumRegs = 4;

    [DllImport("libcuda.so.1", EntryPoint = "cuFuncGetAttribute")]
    private static extern int CuFuncGetAttribute(out int value, int attribute, IntPtr function);

    private static int? FunctionAttribute(IntPtr function, int attribute)
    {
        if (function == IntPtr.Zero || !OperatingSystem.IsLinux()) return null;
        try
        {
            return CuFuncGetAttribute(out int value, attribute, function) == 0 ? value : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
