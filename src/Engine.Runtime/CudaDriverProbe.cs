using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;

namespace NeuronEngine.Runtime;

/// <summary>
/// Says why no CUDA device was found. ILGPU hides the cause: <c>CudaDevice.GetDevices</c> swallows every exception,
/// so a missing driver, a driver that fails cuInit, a container without the device nodes and a device ILGPU cannot
/// read all look the same ("none found"). This asks the driver API directly (libcuda: cuInit, cuDriverGetVersion,
/// cuDeviceGetCount, cuDeviceGetName, compute capability), then, when the driver sees devices ILGPU did not list,
/// builds ILGPU's CudaDevice for device 0 itself to surface the exception it swallowed.
/// </summary>
public static unsafe class CudaDriverProbe
{
    /// <summary>One line: what the driver reports, and the first thing that failed.</summary>
    public static string Explain(string? ilgpuError = null)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows()) return "CUDA needs Linux or Windows";
        string[] names = OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"];
        IntPtr lib = IntPtr.Zero;
        foreach (var n in names)
            if (NativeLibrary.TryLoad(n, out lib)) break;
        if (lib == IntPtr.Zero)
            return $"the NVIDIA driver library ({string.Join(" / ", names)}) is not installed or not visible (no NVIDIA driver here, or not mounted into this container)";

        var init = (delegate* unmanaged<uint, int>)Export(lib, "cuInit");
        var version = (delegate* unmanaged<int*, int>)Export(lib, "cuDriverGetVersion");
        var count = (delegate* unmanaged<int*, int>)Export(lib, "cuDeviceGetCount");
        var errorName = (delegate* unmanaged<int, byte**, int>)Export(lib, "cuGetErrorName");
        if (init == null || version == null || count == null)
            return "the NVIDIA driver library lacks cuInit/cuDriverGetVersion/cuDeviceGetCount (a stub or broken libcuda)";

        int driver = 0;
        version(&driver);
        string driverText = $"driver CUDA {driver / 1000}.{driver % 1000 / 10}";
        int rc = init(0);
        if (rc != 0) return $"{driverText}: cuInit failed with {ErrorName(errorName, rc)} (no GPU visible to this process, or driver and kernel module mismatch)";
        int devices = 0;
        rc = count(&devices);
        if (rc != 0) return $"{driverText}: cuDeviceGetCount failed with {ErrorName(errorName, rc)}";
        if (devices == 0) return $"{driverText}: the driver reports no CUDA devices (check CUDA_VISIBLE_DEVICES)";

        string described = $"{driverText}, {devices} device(s): {Describe(lib, 0)}";
        string? ilgpuFailure = IlgpuDeviceFailure();
        return ilgpuFailure is not null
            ? $"{described}; ILGPU could not read device 0: {ilgpuFailure}"
            : $"{described}; ILGPU reads device 0, yet creating the accelerator failed: {ilgpuError ?? "no error was recorded"}";
    }

    private static string Describe(IntPtr lib, int ordinal)
    {
        var get = (delegate* unmanaged<int*, int, int>)Export(lib, "cuDeviceGet");
        var name = (delegate* unmanaged<byte*, int, int, int>)Export(lib, "cuDeviceGetName");
        var attribute = (delegate* unmanaged<int*, int, int, int>)Export(lib, "cuDeviceGetAttribute");
        if (get == null || name == null || attribute == null) return "?";
        int device;
        if (get(&device, ordinal) != 0) return "?";
        var buffer = stackalloc byte[256];
        string text = name(buffer, 256, device) == 0 ? Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "?" : "?";
        int major = 0, minor = 0;
        attribute(&major, 75, device);   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
        attribute(&minor, 76, device);   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
        return $"{text} (sm_{major}{minor})";
    }

    /// <summary>The exception ILGPU's device enumeration swallowed for device 0, or null if it reads it fine.</summary>
    private static string? IlgpuDeviceFailure()
    {
        IlgpuContexts.InstallNativeResolver();
        var ctor = typeof(CudaDevice).GetConstructor(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, [typeof(int)]);
        if (ctor is null) return null;
        try
        {
            ctor.Invoke([0]);
            return null;
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            return $"{inner.GetType().Name}: {inner.Message}";
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    private static IntPtr Export(IntPtr lib, string name) => NativeLibrary.TryGetExport(lib, name, out var p) ? p : IntPtr.Zero;

    private static string ErrorName(delegate* unmanaged<int, byte**, int> errorName, int code)
    {
        byte* text = null;
        return errorName != null && errorName(code, &text) == 0 && text != null
            ? $"{Marshal.PtrToStringUTF8((IntPtr)text)} ({code})"
            : $"error {code}";
    }
}
