using System.Runtime.CompilerServices;

namespace NeuronEngine.Tests.Support;

/// <summary>Whether this machine has a CUDA device; probed once per test run.</summary>
internal static class CudaAvailability
{
    private static readonly Lazy<bool> Present = new(() =>
    {
        if (global::NeuronEngine.Runtime.IlgpuContexts.TryCreateCuda() is not { } cuda) return false;
        cuda.Accelerator.Dispose();
        cuda.Context.Dispose();
        return true;
    });

    public const string SkipReason = "no CUDA device on this machine (see README: running on a GPU box)";
    public static bool IsPresent => Present.Value;
}

/// <summary>A fact that runs only where a CUDA device exists and is reported as skipped elsewhere (never a vacuous pass).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (!CudaAvailability.IsPresent) Skip = CudaAvailability.SkipReason;
    }
}

/// <summary>The theory form of <see cref="CudaFactAttribute"/>.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (!CudaAvailability.IsPresent) Skip = CudaAvailability.SkipReason;
    }
}
