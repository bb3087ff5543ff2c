using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace NeuronEngine.Runtime;

/// <summary>Host data onto a device: one home for "allocate a buffer and copy this span into it".</summary>
public static class DeviceUpload
{
    /// <summary>A new buffer holding <paramref name="host"/> (one element when it is empty: ILGPU refuses empty buffers).</summary>
    public static MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(this Accelerator accelerator, ReadOnlySpan<T> host) where T : unmanaged
    {
        var buffer = accelerator.Allocate1D<T>(Math.Max(1, host.Length));
        if (host.Length > 0) buffer.View.CopyFromCPU(ref Unsafe.AsRef(in host[0]), host.Length);
        return buffer;
    }
}
