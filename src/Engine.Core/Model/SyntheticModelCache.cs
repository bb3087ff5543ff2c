using System.Globalization;
using NeuronEngine.Format;
using NeuronEngine.IO;

namespace NeuronEngine.Model;

/// <summary>
/// Synthetic models of the preset shapes, written once into a cache directory and reused (gpt2-xl is 6 GB in
/// f32: regenerating it per run would dominate). Location: $ENGINE_CACHE, else $XDG_CACHE_HOME/neuron-engine,
/// else ~/.cache/neuron-engine.
/// </summary>
public static class SyntheticModelCache
{
    public static string Root => Environment.GetEnvironmentVariable("ENGINE_CACHE") is { Length: > 0 } c ? c
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "neuron-engine");

    public static string DirectoryFor(string preset, int seed, TensorDType dtype) =>
        Path.Combine(Root, "synthetic", $"{preset}-seed{seed}-{dtype.ToString().ToLowerInvariant()}");

    /// <summary>Whether the model is already in the cache (nothing would be written).</summary>
    public static bool Exists(string preset, int seed = 0, TensorDType dtype = TensorDType.F32) =>
        File.Exists(Path.Combine(DirectoryFor(preset, seed, dtype), "config.json"));

    /// <summary>The size of the weights file of a preset in a dtype (what generating it writes).</summary>
    public static long Bytes(string preset, TensorDType dtype = TensorDType.F32) =>
        Gpt2Config.Preset(preset).ParameterCount * TensorDTypes.SizeOf(dtype);

    /// <summary>
    /// The model directory, generating it first if absent (into a temp dir renamed into place, so a killed run never
    /// leaves half a model; temp dirs of runs that died are removed). <paramref name="writing"/> is told the directory
    /// and the size before anything is written, and only then.
    /// </summary>
    public static string GetOrCreate(string preset, int seed = 0, TensorDType dtype = TensorDType.F32, Action<string, long>? writing = null)
    {
        var config = Gpt2Config.Preset(preset);
        string dir = DirectoryFor(preset, seed, dtype);
        RemoveStaleTemporaries(Path.GetDirectoryName(dir)!);
        if (File.Exists(Path.Combine(dir, "config.json"))) return dir;
        long bytes = Bytes(preset, dtype);
        DiskSpace.Require(Path.GetDirectoryName(dir)!, bytes, $"synthetic {preset} weights");
        writing?.Invoke(dir, bytes);
        string temp = dir + $".{Host}-{Environment.ProcessId}.tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        try
        {
            SyntheticGpt2.Write(temp, config, new SyntheticGpt2.Options(Seed: seed, DType: dtype));
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        try { Directory.Move(temp, dir); }
        catch (IOException) when (File.Exists(Path.Combine(dir, "config.json"))) { Directory.Delete(temp, true); } // another process won
        return dir;
    }

    private static string Host => Environment.MachineName.Replace('.', '_');

    /// <summary>
    /// Deletes "NAME.HOST-PID.tmp" directories of generations that were killed midway: this host's whose process is
    /// gone, and any untouched for a day (the cache may be shared by the nodes of a cluster, whose PIDs mean nothing here).
    /// </summary>
    public static int RemoveStaleTemporaries(string syntheticRoot)
    {
        if (!Directory.Exists(syntheticRoot)) return 0;
        int removed = 0;
        foreach (string d in Directory.EnumerateDirectories(syntheticRoot, "*.tmp"))
        {
            string owner = Path.GetExtension(Path.GetFileNameWithoutExtension(d)).TrimStart('.'); // "HOST-PID" (or "PID" before hosts were named)
            int dash = owner.LastIndexOf('-');
            string host = dash < 0 ? Host : owner[..dash];
            bool stale = int.TryParse(owner.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && host == Host
                ? pid != Environment.ProcessId && !IsAlive(pid)
                : DateTime.UtcNow - LastWrite(d) > TimeSpan.FromDays(1);
            if (stale && TryDelete(d)) removed++;
        }
        return removed;
    }

    private static DateTime LastWrite(string dir)
    {
        try { return Directory.EnumerateFileSystemEntries(dir).Select(File.GetLastWriteTimeUtc).DefaultIfEmpty(Directory.GetLastWriteTimeUtc(dir)).Max(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return DateTime.UtcNow; }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    private static bool TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
