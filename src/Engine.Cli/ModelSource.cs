using System.Reflection;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.Model;

namespace NeuronEngine.Cli;

/// <summary>
/// Where the weights and corpus come from: `--model DIR|FILE`, or `--preset NAME` for seeded synthetic weights
/// of that shape, or — with neither — the embedded default (synthetic gpt2 and the bundled sample text), so a
/// fresh clone runs without downloading anything. Synthetic models are written once into a cache directory.
/// </summary>
public static class ModelSource
{
    public const string DefaultPreset = "gpt2";

    /// <summary>
    /// Resolves the model path (and a display name). Synthetic weights are generated on first use, saying so on stderr
    /// ("writing 0.5 GB of synthetic gpt2 weights to …") then and only then; without --model or --preset a note says
    /// the weights are synthetic, as a user may not know. <paramref name="beforeWriting"/> runs first, with the preset's shape,
    /// when weights are about to be written, so a command checks what it can (its layers, its device) before the user waits
    /// for 0.5–6 GB of weights.
    /// </summary>
    public static (string Path, string Name) Resolve(string? model, string? preset, int seed = 0, string dtype = "f32", Action<Gpt2Config>? beforeWriting = null)
    {
        if (model is not null && preset is not null) throw new ArgumentException("give either --model or --preset, not both");
        if (model is not null) return (model, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(model))));
        string name = preset ?? DefaultPreset;
        var shape = Gpt2Config.Preset(name); // unknown names fail before anything is written
        var d = TensorDTypes.ParseFloat(dtype);
        if (preset is null)
            Console.Error.WriteLine($"note: no --model given: using SYNTHETIC {name} weights (seeded random, not a trained GPT-2); pass --model for real weights (see weights/README.md)");
        string dir = SyntheticModelCache.GetOrCreate(name, seed, d, (where, bytes) =>
        {
            beforeWriting?.Invoke(shape);
            Console.Error.WriteLine($"writing {DiskSpace.Format(bytes)} of synthetic {name} weights to {where} (once; later runs reuse them)");
        });
        return (dir, SyntheticName(name, seed));
    }

    public static string SyntheticName(string preset, int seed) => $"synthetic-{preset}-seed{seed}";

    /// <summary>The corpus path, or the bundled sample text (extracted to the cache) when none is given.</summary>
    public static string ResolveCorpus(string? corpus)
    {
        if (corpus is not null) return corpus;
        string path = Path.Combine(SyntheticModelCache.Root, "sample.txt");
        using var resource = Assembly.GetExecutingAssembly().GetManifestResourceStream("sample.txt")
            ?? throw new InvalidOperationException("the bundled sample text is missing from this build");
        using var reader = new StreamReader(resource);
        string text = reader.ReadToEnd();
        if (!File.Exists(path) || File.ReadAllText(path) != text) AtomicFile.WriteAllText(path, text);
        Console.Error.WriteLine($"note: no --corpus given: using the bundled sample text ({path})");
        return path;
    }
}
