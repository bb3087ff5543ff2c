using System.Globalization;

namespace NeuronEngine.OpenAi;

/// <summary>One neuron's file in a per-neuron layout.</summary>
public sealed record NeuronFile(int Layer, int Neuron, string Path);

/// <summary>
/// OpenAI's per-neuron layout, DIR/{layer}/{neuron}{extension}, shared by records (.json), explanations (.json),
/// simulation results (.jsonl), related tokens (.json) and the viewer's data files (.js).
/// </summary>
public static class NeuronFileLayout
{
    public static string PathFor(string directory, int layer, int neuron, string extension) =>
        Path.Combine(directory, layer.ToString(CultureInfo.InvariantCulture), neuron.ToString(CultureInfo.InvariantCulture) + extension);

    /// <summary>
    /// Runs <paramref name="writeNeuron"/> for neurons 0..<paramref name="neurons"/>−1 of one layer, several at a time:
    /// each writes one small file flushed to disk before its rename, and in parallel the flushes overlap (one after
    /// another they cost ~1 ms each, minutes for gpt2-xl's 307,200 neurons). More writers than cores, as they mostly wait.
    /// </summary>
    public static void WriteEachNeuron(int neurons, Action<int> writeNeuron) =>
        Parallel.For(0, neurons, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(8, 2 * Environment.ProcessorCount) }, writeNeuron);

    /// <summary>
    /// Every numeric {layer} folder's numeric {neuron}{extension} file, sorted by layer then neuron; other folders and
    /// files are ignored (as OpenAI's get_numerical_subdirs does, and so sidecars such as 3-sidecar.json are not
    /// neurons). The directory must exist.
    /// </summary>
    public static List<NeuronFile> Enumerate(string directory, string extension) =>
        EnumerateByLayer(directory, extension).SelectMany(layer => layer).ToList();

    /// <summary>
    /// The files of <see cref="Enumerate"/> one layer at a time (lowest layer first, each sorted by neuron), listed only
    /// when that layer is reached: what a pass over hundreds of thousands of files holds is one layer's listing.
    /// </summary>
    public static IEnumerable<List<NeuronFile>> EnumerateByLayer(string directory, string extension)
    {
        var layers = new List<(int Layer, string Path)>();
        foreach (string layerDir in Directory.EnumerateDirectories(directory))
            if (TryParseIndex(Path.GetFileName(layerDir), out int layer)) layers.Add((layer, layerDir));
        foreach (var group in layers.GroupBy(l => l.Layer).OrderBy(g => g.Key))
        {
            var found = new List<NeuronFile>();
            foreach (var (layer, layerDir) in group)
                foreach (string file in Directory.EnumerateFiles(layerDir, "*" + extension))
                    if (Path.GetExtension(file) == extension && TryParseIndex(Path.GetFileNameWithoutExtension(file), out int neuron))
                        found.Add(new NeuronFile(layer, neuron, file));
            found.Sort((a, b) => a.Neuron.CompareTo(b.Neuron));
            if (found.Count > 0) yield return found;
        }
    }

    /// <summary>
    /// Whether a directory entry is one of the per-layer outputs the engine writes beside such a layout: a {layer}
    /// folder, a packed layer-{L}.safetensors, or a temporary file of an atomic write (*.tmp). What records and related
    /// clear and recognise as theirs.
    /// </summary>
    public static bool IsLayerOutput(string path)
    {
        string name = Path.GetFileName(path);
        if (Directory.Exists(path)) return IsLayerFolder(name);
        return name.EndsWith(".tmp", StringComparison.Ordinal)
            || (name.StartsWith("layer-", StringComparison.Ordinal) && name.EndsWith(".safetensors", StringComparison.Ordinal));
    }

    /// <summary>Whether a directory entry's name is a {layer} folder of this layout (all digits).</summary>
    public static bool IsLayerFolder(string name) => name.Length > 0 && name.All(char.IsAsciiDigit);

    private static bool TryParseIndex(string name, out int index)
    {
        index = 0;
        return IsLayerFolder(name) && int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }
}
