using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Runtime;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// The OpenCL device of this machine, for the tests tagged device=opencl. On our Debian 12 machines there is none:
/// scripts/opencl-tests.sh runs those tests inside a Debian 13 chroot with pocl (docs/opencl.md), with
/// ENGINE_REQUIRE_OPENCL=1, so there a missing device fails the test. Everywhere else the tests skip with the reason
/// (<see cref="RequiredTool"/>).
/// </summary>
public static class OpenClDevice
{
    public const string Tool = "opencl";

    public const string SkipReason =
        "no OpenCL device that ILGPU accepts (OpenCL C 2.0+ with generic address space) on this machine; "
        + "scripts/opencl-tests.sh runs these tests in a Debian 13 chroot with pocl";

    /// <summary>Trait of every OpenCL test class: `-trait device=opencl` selects them (scripts/opencl-tests.sh).</summary>
    public const string Trait = "device";
    public const string TraitValue = "opencl";

    private static readonly Lazy<bool> Present = new(() =>
    {
        if (IlgpuContexts.TryCreateOpenCL() is not { } found) return false;
        found.Accelerator.Dispose();
        found.Context.Dispose();
        return true;
    });

    public static bool IsPresent => Present.Value;

    /// <summary>Skips (or, with ENGINE_REQUIRE_OPENCL=1, fails) the running test where there is no OpenCL device.</summary>
    public static void Require()
    {
        if (!IsPresent) RequiredTool.Missing(Tool, SkipReason);
    }
}

/// <summary>
/// One OpenCL accelerator per test class, created on first use: a test that touches <see cref="Accelerator"/> on a
/// machine without OpenCL is skipped with the reason (or fails where ENGINE_REQUIRE_OPENCL=1), never crashes the class.
/// </summary>
public sealed class OpenClAcceleratorFixture : IAcceleratorFixture, IDisposable
{
    private (Context Context, Accelerator Accelerator)? _device;

    public Accelerator Accelerator
    {
        get
        {
            OpenClDevice.Require();
            lock (this) return (_device ??= IlgpuContexts.TryCreateOpenCL() ?? throw new InvalidOperationException("the OpenCL device vanished")).Accelerator;
        }
    }

    public string DeviceName => "opencl";

    public void Dispose()
    {
        if (_device is not var (context, accelerator)) return;
        accelerator.Dispose();
        context.Dispose();
    }
}

/// <summary>What a kernel test needs of its accelerator: the CPU emulator's fixture and the OpenCL one both give it.</summary>
public interface IAcceleratorFixture
{
    Accelerator Accelerator { get; }

    /// <summary>The `--device` name of the accelerator (ilgpu-cpu, opencl).</summary>
    string DeviceName { get; }
}

/// <summary>A fresh context and accelerator for a test by `--device` name: the CPU emulator, or OpenCL (skipping without it).</summary>
public static class TestAccelerators
{
    public static (Context Context, Accelerator Accelerator) Open(string device)
    {
        switch (device)
        {
            case "ilgpu-cpu":
                return IlgpuContexts.CreateCpu();
            case "opencl":
                OpenClDevice.Require();
                return IlgpuContexts.TryCreateOpenCL() ?? throw new InvalidOperationException("the OpenCL device vanished");
            default:
                throw new ArgumentException($"no test accelerator '{device}'");
        }
    }
}
