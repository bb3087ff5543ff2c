using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace NeuronEngine.IO;

/// <summary>An output location that cannot be used (a file, a read-only file system, a parent that is a file, another run's).</summary>
public sealed class OutputLocationException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Makes a command's output directory and holds it for the run: the directory is created (each problem one clear line
/// naming the option and the path), then a lock file, <c>DIR/.engine.lock</c>, is opened exclusively and holds the PID
/// and command line of the run. A second run into the same directory is refused with one line naming the first; the
/// lock is released (and the file deleted) on dispose, and by the operating system when a run dies, so a killed run
/// never blocks its rerun. A directory this call created and the run left empty (it stopped on bad input) is removed.
/// </summary>
public sealed partial class OutputDirectory : IDisposable
{
    public const string LockFileName = ".engine.lock";

    public string Path { get; }
    private readonly FileStream _lock;
    private readonly string _lockPath;
    private readonly bool _created;

    private OutputDirectory(string path, FileStream lockStream, string lockPath, bool created)
    {
        Path = path; _lock = lockStream; _lockPath = lockPath; _created = created;
    }

    /// <summary>
    /// The entries of <paramref name="dir"/> that belong to neither the command's own output (<paramref name="isOwn"/>,
    /// given an entry's name) nor the run's lock file: what makes a directory "someone else's" for resume checks.
    /// </summary>
    public static IEnumerable<string> ForeignEntries(string dir, Func<string, bool> isOwn) =>
        Directory.EnumerateFileSystemEntries(dir).Select(System.IO.Path.GetFileName).OfType<string>()
            .Where(name => name != LockFileName && !isOwn(name));

    /// <summary>Creates (if needed) and locks <paramref name="path"/>, the value of <paramref name="option"/> (e.g. "--out").</summary>
    public static OutputDirectory Acquire(string path, string option = "--out")
    {
        bool created = Create(path, option);
        string lockPath = System.IO.Path.Combine(path, LockFileName);
        for (int attempt = 0; ; attempt++)
        {
            FileStream stream;
            try
            {
                // FileShare.None takes an exclusive advisory lock (flock) on Unix, a sharing lock on Windows.
                stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (IsLocked(e))
            {
                throw new OutputLocationException($"{option} {path} is in use by another run ({Holder(lockPath)}); wait for it to finish or use another {option}", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OutputLocationException($"{option} {path}: cannot write there ({Reason(e)})", e);
            }
            // A run that released the lock deletes the file: if it did so between our open and our lock, start again.
            if (!File.Exists(lockPath) && attempt < 5)
            {
                stream.Dispose();
                continue;
            }
            try
            {
                stream.SetLength(0);
                stream.Write(Encoding.UTF8.GetBytes($"pid {Environment.ProcessId} on {Environment.MachineName} since {DateTime.Now:yyyy-MM-dd HH:mm:ss}: {Describe(Environment.GetCommandLineArgs())}\n"));
                stream.Flush();
            }
            catch (IOException e)
            {
                stream.Dispose();
                throw new OutputLocationException($"{option} {path}: cannot write there ({Reason(e)})", e);
            }
            return new OutputDirectory(path, stream, lockPath, created);
        }
    }

    /// <summary>
    /// Creates the directory (and its parents), turning each way that can fail into one line naming the option; true
    /// when it did not exist.
    /// </summary>
    public static bool Create(string path, string option = "--out")
    {
        if (string.IsNullOrWhiteSpace(path)) throw new OutputLocationException($"{option}: empty path");
        if (File.Exists(path)) throw new OutputLocationException($"{option} {path} is a file, not a directory");
        if (Directory.Exists(path)) return false;
        // A parent that is a file: say which one rather than .NET's "Could not find a part of the path".
        for (string? parent = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)); parent is not null; parent = System.IO.Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent)) throw new OutputLocationException($"{option} {path}: {parent} is a file, not a directory");
            if (Directory.Exists(parent)) break;
        }
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputLocationException($"{option} {path}: cannot create the directory ({Reason(e)})", e);
        }
        return true;
    }

    /// <summary>A short reason from an I/O exception (read-only file system, permission denied, no space …).</summary>
    public static string Reason(Exception e)
    {
        if (DiskSpace.IsDiskFull(e)) return "no space left on the device";
        string m = e.Message;
        if (m.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase)) return "read-only file system";
        if (e is UnauthorizedAccessException || m.Contains("Permission denied", StringComparison.OrdinalIgnoreCase)
            || m.Contains("Access to the path", StringComparison.OrdinalIgnoreCase)) return "permission denied";
        int quote = m.IndexOf(" : '", StringComparison.Ordinal); // "<strerror> : '<path>'" on Unix
        return (quote > 0 ? m[..quote] : m).ReplaceLineEndings(" ").Trim().TrimEnd('.');
    }

    // EWOULDBLOCK from flock (11 on Linux, 35 on macOS and BSD), or Windows' sharing violation.
    private static bool IsLocked(IOException e) => e.HResult is 11 or 35 or unchecked((int)0x80070020);

    private static string Describe(string[] args) =>
        string.Join(' ', args.Select((a, i) => i == 0 ? System.IO.Path.GetFileNameWithoutExtension(a) : a.Contains(' ') ? $"'{a}'" : a));

    /// <summary>What the lock file says about the run holding it (read without taking the lock .NET would take).</summary>
    private static string Holder(string lockPath)
    {
        string? text = null;
        try
        {
            if (OperatingSystem.IsWindows()) return "its lock file is " + lockPath;
            int fd = Open(lockPath, 0 /* O_RDONLY */);
            if (fd >= 0)
            {
                using var handle = new SafeFileHandle(fd, ownsHandle: true);
                var buffer = new byte[4096];
                int n = RandomAccess.Read(handle, buffer, 0);
                text = Encoding.UTF8.GetString(buffer, 0, n).Trim();
            }
        }
        catch (Exception e) when (e is IOException or EntryPointNotFoundException or DllNotFoundException or UnauthorizedAccessException)
        {
        }
        return string.IsNullOrEmpty(text) ? $"see {lockPath}" : text;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    public void Dispose()
    {
        // Delete while still holding the lock, so no other run can be holding a lock on the file we delete.
        try { File.Delete(_lockPath); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        _lock.Dispose();
        try
        {
            if (_created && !Directory.EnumerateFileSystemEntries(Path).Any()) Directory.Delete(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
