using System.Runtime.CompilerServices;
using Xunit.v3;

namespace NeuronEngine.Tests.Support;

/// <summary>Whether this machine has a CUDA device; probed once per test run.</summary>
internal static class CudaAvailability
{
    private static readonly Lazy<bool> Present = new(() =>
    {
        if (NeuronEngine.Runtime.IlgpuContexts.TryCreateCuda() is not { } cuda) return false;
        cuda.Accelerator.Dispose();
        cuda.Context.Dispose();
        return true;
    });

    public const string SkipReason = "no CUDA device on this machine (scripts/gpu-run.sh runs these on a GPU box)";
    public static bool IsPresent => Present.Value;

    public static readonly IReadOnlyCollection<KeyValuePair<string, string>> Traits = [new("device", "cuda")];
}

/// <summary>
/// A fact that runs only where a CUDA device exists and is reported as skipped elsewhere (never a vacuous pass). It
/// carries the trait device=cuda, which is how scripts/gpu-run.sh selects the GPU tests (`-trait device=cuda`).
/// </summary>
public sealed class CudaFactAttribute : FactAttribute, ITraitAttribute
{
    public CudaFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (!CudaAvailability.IsPresent) Skip = CudaAvailability.SkipReason;
    }

    public IReadOnlyCollection<KeyValuePair<string, string>> GetTraits() => CudaAvailability.Traits;
}

/// <summary>The theory form of <see cref="CudaFactAttribute"/> (trait device=cuda too).</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute, ITraitAttribute
{
    public CudaTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (!CudaAvailability.IsPresent) Skip = CudaAvailability.SkipReason;
    }

    public IReadOnlyCollection<KeyValuePair<string, string>> GetTraits() => CudaAvailability.Traits;
}
