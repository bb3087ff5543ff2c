using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Runtime;

namespace NeuronEngine.Runtime;

/// <summary>How ILGPU groups a kernel's threads, which decides how it is compiled and loaded.</summary>
public enum KernelGrouping
{
    /// <summary>
    /// Explicitly grouped (Grid/Group indices, shared memory, barriers): compiled from
    /// <see cref="EntryPointDescription.FromExplicitlyGroupedKernel"/> with the entry's specialisation, loaded with
    /// <c>LoadKernel</c>, launched with a <see cref="KernelConfig"/> the Op computes.
    /// </summary>
    Explicit,

    /// <summary>
    /// Implicitly grouped (one <see cref="Index1D"/> per thread): compiled from
    /// <see cref="EntryPointDescription.FromImplicitlyGroupedKernel"/> without specialisation, loaded with
    /// <c>LoadAutoGroupedKernel</c>; ILGPU picks the group size at load time (on CUDA the occupancy API's
    /// cuOccupancyMaxPotentialBlockSize).
    /// </summary>
    AutoGrouped,
}

/// <summary>
/// The group size and dynamic shared memory of a representative launch (GPT-2 small on a GPU), which the launching
/// Op computes at run time. Only reports use it (blocks per multiprocessor need a group size); null group size:
/// ILGPU's own choice (auto-grouped kernels).
/// </summary>
public readonly record struct ReportLaunch(int? GroupSize, int DynamicSharedBytes = 0);

/// <summary>
/// One kernel exactly as the runtime loads it: method (generic instantiation included), grouping and
/// <see cref="KernelSpecialization"/>. <see cref="KernelCatalog"/> holds every one; the Ops load through
/// <see cref="CatalogKernel{TLauncher}.Load"/> and `engine ptx` compiles <see cref="EntryPoint"/> with
/// <see cref="Specialization"/>, so the dumped PTX is the PTX that runs.
/// </summary>
public abstract class CatalogKernel
{
    private protected CatalogKernel(Delegate kernel, KernelGrouping grouping, KernelSpecialization specialization, ReportLaunch report)
    {
        Method = kernel.Method;
        if (!Method.IsStatic) throw new ArgumentException($"kernel {Method.Name} must be a static method");
        Grouping = grouping;
        Specialization = specialization;
        Report = report;
        Name = Method.DeclaringType!.Name + "." + Method.Name
            + string.Concat(Method.GetGenericArguments().Select(t => "-" + t.Name));
    }

    /// <summary>Type.Method, then "-" and each generic argument: unique, and usable as a file name.</summary>
    public string Name { get; }

    public MethodInfo Method { get; }

    public KernelGrouping Grouping { get; }

    /// <summary>
    /// PTX launch bounds: MaxNumThreadsPerGroup becomes <c>.maxntid</c>, MinNumGroupsPerMultiprocessor
    /// <c>.minnctapersm</c> (ptxas then caps registers at 65536 / (maxntid · minnctapersm)). Empty for auto-grouped
    /// kernels, as ILGPU's auto-grouped loader compiles them.
    /// </summary>
    public KernelSpecialization Specialization { get; }

    public ReportLaunch Report { get; }

    /// <summary>The entry point ILGPU compiles for this kernel when it is loaded.</summary>
    public EntryPointDescription EntryPoint => Grouping == KernelGrouping.Explicit
        ? EntryPointDescription.FromExplicitlyGroupedKernel(Method)
        : EntryPointDescription.FromImplicitlyGroupedKernel(Method);

    /// <summary>
    /// Loads the kernel as <see cref="CatalogKernel{TLauncher}.Load"/> does (same cache entry on the accelerator),
    /// untyped; <paramref name="info"/> carries the group size ILGPU chose for auto-grouped kernels.
    /// </summary>
    public Kernel LoadKernel(Accelerator accelerator, out KernelInfo? info) => Grouping == KernelGrouping.Explicit
        ? accelerator.LoadKernel(Method, Specialization, out info)
        : accelerator.LoadAutoGroupedKernel(Method, out info);

    public override string ToString() => Name;
}

/// <summary>A catalogued kernel with its launcher type (what ILGPU's typed LoadKernel overloads would return).</summary>
public sealed class CatalogKernel<TLauncher> : CatalogKernel where TLauncher : Delegate
{
    internal CatalogKernel(Delegate kernel, KernelGrouping grouping, KernelSpecialization specialization, ReportLaunch report)
        : base(kernel, grouping, specialization, report) { }

    /// <summary>Compiles (once per accelerator: ILGPU caches by entry point and specialisation) and returns the launcher.</summary>
    public TLauncher Load(Accelerator accelerator) => Grouping == KernelGrouping.Explicit
        ? accelerator.LoadKernel<TLauncher>(Method, Specialization)
        : accelerator.LoadAutoGroupedKernel<TLauncher>(Method);
}
