using NeuronEngine.Format;

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

    /// <summary>The model directory, generating it first if absent (into a temp dir renamed into place, so a killed run never leaves half a model).</summary>
    public static string GetOrCreate(string preset, int seed = 0, TensorDType dtype = TensorDType.F32)
    {
        var config = Gpt2Config.Preset(preset);
        string dir = DirectoryFor(preset, seed, dtype);
        if (File.Exists(Path.Combine(dir, "config.json"))) return dir;
        string temp = dir + $".{Environment.ProcessId}.tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        SyntheticGpt2.Write(temp, config, new SyntheticGpt2.Options(Seed: seed, DType: dtype));
        try { Directory.Move(temp, dir); }
        catch (IOException) when (File.Exists(Path.Combine(dir, "config.json"))) { Directory.Delete(temp, true); } // another process won
        return dir;
    }
}
