using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime;

/// <summary>
/// The one meaning of `--device` for every command that computes (forward pass, scoring, related tokens): `cpu` is the
/// managed path of Engine.Core; `cuda` and `opencl` run our ILGPU kernels on a GPU; `ilgpu-cpu` runs them on ILGPU's CPU
/// accelerator (an emulator, for tests); `auto` takes the first of CUDA, OpenCL and `cpu` that is there. One place for
/// that order and for what an absent device says (CUDA's reason comes from the driver: <see cref="CudaDriverProbe"/>).
/// </summary>
public static class DeviceSelection
{
    public static readonly string[] Names = ["auto", "cuda", "opencl", "ilgpu-cpu", "cpu"];

    /// <summary>
    /// What runs on device <paramref name="name"/>: <paramref name="managed"/>() for `cpu` (and for `auto` without a GPU),
    /// otherwise <paramref name="onAccelerator"/>(the device's name, its context, its accelerator), which takes ownership
    /// of both; if it throws (a precision the device lacks, say), they are disposed here.
    /// </summary>
    /// <param name="tensorCoreEmulation">
    /// the work runs tensor-core GEMMs (tf32/bf16): ILGPU's CPU accelerator then gets 32-lane warps, the layout of
    /// mma.sync's fragments that <see cref="TensorCoreMma"/> emulates
    /// </param>
    public static T Create<T>(string name, Func<T> managed, Func<string, Context, Accelerator, T> onAccelerator, bool tensorCoreEmulation = false)
    {
        (Context Context, Accelerator Accelerator)? found = name switch
        {
            "cpu" => null,
            "ilgpu-cpu" => tensorCoreEmulation
                ? IlgpuContexts.CreateCpu(warpSize: TensorCoreGemmKernel.WarpSize, warpsPerGroup: 8)
                : IlgpuContexts.CreateCpu(),
            "cuda" => IlgpuContexts.TryCreateCuda() ?? throw NoCuda(),
            "opencl" => IlgpuContexts.TryCreateOpenCL() ?? throw NoOpenCL(),
            "auto" => IlgpuContexts.TryCreateCuda() ?? IlgpuContexts.TryCreateOpenCL(),
            _ => throw new ArgumentException($"--device: unknown device '{name}' (expected {string.Join("|", Names)})"),
        };
        if (found is not var (context, accelerator)) return managed();
        try
        {
            return onAccelerator(KindOf(accelerator), context, accelerator);
        }
        catch
        {
            accelerator.Dispose();
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fails now, with <see cref="Create{T}"/>'s message, when device <paramref name="name"/> names a GPU backend this
    /// machine lacks — for commands about to do slow work before they open the device (writing synthetic weights).
    /// </summary>
    public static void RequireAvailable(string name)
    {
        var found = name switch
        {
            "cuda" => IlgpuContexts.TryCreateCuda() ?? throw NoCuda(),
            "opencl" => IlgpuContexts.TryCreateOpenCL() ?? throw NoOpenCL(),
            _ => default((Context, Accelerator)?),
        };
        if (found is not var (context, accelerator)) return;
        accelerator.Dispose();
        context.Dispose();
    }

    /// <summary>The `--device` name of an accelerator (what `auto` chose, for the reports).</summary>
    public static string KindOf(Accelerator accelerator) => accelerator.AcceleratorType switch
    {
        AcceleratorType.Cuda => "cuda",
        AcceleratorType.OpenCL => "opencl",
        _ => "ilgpu-cpu",
    };

    private static NotSupportedException NoCuda() =>
        new($"--device cuda: no CUDA device found: {CudaDriverProbe.Explain(IlgpuContexts.LastFailure)}");

    private static NotSupportedException NoOpenCL() => new("--device opencl: no OpenCL device with OpenCL C 2.0 or later found");
}
