using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// Compiles a kernel to PTX on a machine without a GPU (ILGPU's PTX backend needs no driver), so every kernel
/// is checked to be CUDA-compilable by the test suite. Each instance owns its Context: a failed compile poisons it.
/// </summary>
public sealed class PtxCompiler : IDisposable
{
    private readonly Context _context = Context.Create(b => b.Optimize(OptimizationLevel.O2).Cuda());
    private readonly PTXBackend _backend;

    public PtxCompiler() => _backend = new PTXBackend(_context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!);

    /// <summary>PTX of a kernel written for explicit groups (shared memory, barriers).</summary>
    public string CompileExplicit(MethodInfo kernel, int groupSize = 256) =>
        Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), groupSize);

    /// <summary>PTX of an implicitly grouped (Index1D/2D/3D) kernel.</summary>
    public string CompileImplicit(MethodInfo kernel) =>
        Compile(EntryPointDescription.FromImplicitlyGroupedKernel(kernel), 0);

    /// <summary>PTX of a catalogued kernel exactly as the runtime loads it (entry point and specialisation).</summary>
    public string Compile(NeuronEngine.Runtime.CatalogKernel kernel) => Compile(kernel.EntryPoint, kernel.Specialization);

    private string Compile(EntryPointDescription entry, int groupSize) =>
        Compile(entry, groupSize > 0 ? new KernelSpecialization(groupSize, null) : KernelSpecialization.Empty);

    /// <summary>PTX of an entry point under a given specialisation (launch bounds).</summary>
    public string Compile(EntryPointDescription entry, KernelSpecialization specialization) =>
        ((PTXCompiledKernel)_backend.Compile(entry, specialization)).PTXAssembly;

    public static MethodInfo Method(Type type, string name) =>
        type.GetMethod(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
        ?? throw new ArgumentException($"{type.Name}.{name} not found");

    public void Dispose()
    {
        _backend.Dispose();
        _context.Dispose();
    }
}

/// <summary>One ILGPU CPU accelerator per test class (xunit runs classes in parallel; contexts must not be shared).</summary>
public sealed class CpuAcceleratorFixture : IAcceleratorFixture, IDisposable
{
    public string DeviceName => "ilgpu-cpu";

    public Context Context { get; }
    public Accelerator Accelerator { get; }

    public CpuAcceleratorFixture() => (Context, Accelerator) = NeuronEngine.Runtime.IlgpuContexts.CreateCpu();

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
