using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NeuronEngine.IO;

/// <summary>
/// A disk that is (or would become) full, reported before or instead of a crash: the message is one line naming the
/// path, what was needed and what is free, fit to show the user as it is.
/// </summary>
public sealed class DiskFullException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Free-space checks and space reservation. Files filled through a memory map must have their blocks reserved first:
/// a sparse file on a full disk makes the page fault of a store fail with SIGBUS, which kills the process without a
/// word. <see cref="Reserve"/> allocates every block up front (posix_fallocate), so a full disk is an
/// <see cref="IOException"/> at that point instead.
/// </summary>
public static partial class DiskSpace
{
    private const int ENOSPC = 28, EDQUOT = 122, EINTR = 4;

    /// <summary>Bytes free to this user on the file system holding <paramref name="path"/> (or an existing parent); null if unknown.</summary>
    public static long? Available(string path)
    {
        try
        {
            string? dir = Path.GetFullPath(path);
            while (dir is not null && !Directory.Exists(dir)) dir = Path.GetDirectoryName(dir);
            return dir is null ? null : new DriveInfo(dir).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Refuses up front when <paramref name="bytes"/> more will not fit beside <paramref name="path"/> (what = e.g. "12 shards").</summary>
    public static void Require(string path, long bytes, string what)
    {
        if (bytes <= 0 || Available(path) is not long free || free >= bytes) return;
        throw new DiskFullException($"{path}: {what} need {Format(bytes)} but only {Format(free)} is free there; free some space (or use another location) and rerun");
    }

    /// <summary>Allocates the first <paramref name="length"/> bytes of an open file so later stores cannot fail for want of space.</summary>
    public static void Reserve(FileStream stream, string path, long length)
    {
        if (length <= 0) return;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            int rc = ReserveUnix(stream.SafeFileHandle, length);
            if (rc == 0) return;
            if (rc is ENOSPC or EDQUOT)
            {
                long? free = Available(path);
                throw new DiskFullException($"{path}: no space left on the device for this {Format(length)} file" +
                    (free is long f ? $" ({Format(f)} free)" : "") + "; free some space (or use another location) and rerun to continue");
            }
            // EOPNOTSUPP, EINVAL (e.g. macOS has no posix_fallocate): fall back to a plain length change below.
        }
        stream.SetLength(length);
    }

    private static int ReserveUnix(SafeFileHandle handle, long length)
    {
        try
        {
            int fd = (int)handle.DangerousGetHandle();
            int rc;
            do rc = PosixFallocate(fd, 0, length); while (rc == EINTR);
            return rc;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return -1;
        }
    }

    /// <summary>posix_fallocate returns the error number (it does not set errno); glibc emulates it where the file system lacks fallocate.</summary>
    [LibraryImport("libc", EntryPoint = "posix_fallocate")]
    private static partial int PosixFallocate(int fd, long offset, long length);

    /// <summary>"1.5 GB", "12.0 MB", "512 bytes".</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1_000_000_000 => (bytes / 1e9).ToString("F1", CultureInfo.InvariantCulture) + " GB",
        >= 1_000_000 => (bytes / 1e6).ToString("F1", CultureInfo.InvariantCulture) + " MB",
        >= 10_000 => (bytes / 1e3).ToString("F0", CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " bytes",
    };

    /// <summary>Whether an exception is a full disk or quota (ENOSPC, EDQUOT, or Windows' disk-full codes).</summary>
    public static bool IsDiskFull(Exception e) => e is DiskFullException
        || (e is IOException io && (io.HResult is ENOSPC or EDQUOT or unchecked((int)0x80070070) or unchecked((int)0x80070027)
            || io.Message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase)
            || io.Message.Contains("Disk quota exceeded", StringComparison.OrdinalIgnoreCase)));
}
