using ILGPU;
using ILGPU.Runtime;
using ILGPU.Backends.OpenCL;
using ILGPU.Runtime.OpenCL;

namespace NeuronEngine.Runtime;

/// <summary>
/// Every OpenCL device of the machine as `engine info` shows it: the ones ILGPU accepts with their sub-group size, fp16
/// support and how group sums run there (<see cref="AcceleratorPlan"/>), the others with the reason they were refused.
/// ILGPU 1.5.3 accepts a device whose `-cl-std` version (the OpenCL C it compiles for) is 2.0 or later and which has the
/// generic address space; Debian 12's pocl 3.1 reports OpenCL C 1.2 and is refused, Debian 13's pocl 6.0 is accepted
/// (docs/opencl.md).
/// </summary>
public static class OpenClDevices
{
    /// <summary>Why ILGPU refuses <paramref name="device"/>, or null where it accepts it.</summary>
    public static string? RefusalReason(CLDevice device)
    {
        var reasons = new List<string>();
        if (device.CLStdVersion < CLCVersion.CL20) reasons.Add($"OpenCL C {device.CVersion} (needs 2.0 or later)");
        if (!device.Capabilities.GenericAddressSpace) reasons.Add("no generic address space");
        return reasons.Count == 0 ? null : string.Join(", ", reasons);
    }

    /// <summary>One line per OpenCL device found (accepted or refused); empty where there is no OpenCL platform.</summary>
    public static IReadOnlyList<string> Describe()
    {
        var lines = new List<string>();
        IlgpuContexts.InstallNativeResolver();
        using var all = Context.Create(b => b.OpenCL(_ => true));
        foreach (var device in all.GetCLDevices())
        {
            string memory = $"{device.MemorySize / (1 << 20):N0} MiB, up to {device.MaxNumThreadsPerGroup} threads/group";
            if (RefusalReason(device) is { } why)
            {
                lines.Add($"opencl     refused: {device.Name} ({memory}): {why}");
                continue;
            }
            string detail;
            try
            {
                using var accelerator = device.CreateAccelerator(all);
                var plan = AcceleratorPlan.For(accelerator);
                detail = $"sub-group {accelerator.WarpSize}, fp16 {(device.Capabilities.Float16 ? "yes" : "no")}, {plan.Describe()}";
            }
            catch (Exception e) when (e is CLException or NotSupportedException or InvalidOperationException)
            {
                detail = $"accepted by ILGPU, but opening it failed: {e.Message}";
            }
            lines.Add($"opencl     {device.Name} ({memory}; OpenCL {device.DeviceVersion}, {detail})");
        }
        return lines;
    }
}
