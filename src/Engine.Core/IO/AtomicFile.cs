namespace NeuronEngine.IO;

/// <summary>
/// Writes files so that readers see either the old content or the complete new one: the bytes go to a
/// temporary file in the same directory (same file system, so the rename is atomic), are flushed to
/// disk, and the file is moved over the target.
/// </summary>
public static class AtomicFile
{
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> content) =>
        Write(path, content, static (stream, bytes) => stream.Write(bytes));

    /// <summary>
    /// The same promise for content written piece by piece (e.g. a line per neuron of a long run) without holding
    /// it all in memory: <paramref name="write"/> fills a buffered stream over the temporary file.
    /// </summary>
    public static void Write(string path, Action<Stream> write) =>
        Write(path, write, static (stream, writeTo) => writeTo(stream));

    private static void Write<TState>(string path, TState state, Action<Stream, TState> write) where TState : allows ref struct
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"No directory in path '{path}'.", nameof(path));
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream, state);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (IOException e) when (DiskSpace.IsDiskFull(e) && e is not DiskFullException)
        {
            TryDelete(temp);
            throw new DiskFullException($"{fullPath}: no space left on the device; free some space (or use another location) and rerun to continue", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public static void WriteAllText(string path, string content) =>
        WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(content));

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { /* the original error matters more */ }
        catch (UnauthorizedAccessException) { }
    }
}
