using System.Globalization;

namespace NeuronEngine.Scoring;

/// <summary>One neuron's results file in OpenAI's layout.</summary>
public sealed record NeuronResultsFile(int Layer, int Neuron, string Path);

/// <summary>Finds the DIR/{layer}/{neuron}.jsonl files of OpenAI's explanations layout.</summary>
public static class ExplanationsDirectory
{
    /// <summary>
    /// Every numeric {layer} folder's numeric {neuron}.jsonl file, sorted by layer then neuron; other
    /// folders and files are ignored (as OpenAI's get_numerical_subdirs does). A missing or empty
    /// directory is reported through <paramref name="failures"/>.
    /// </summary>
    public static IReadOnlyList<NeuronResultsFile> Enumerate(string directory, ICollection<ScoreFailure> failures)
    {
        if (!Directory.Exists(directory))
        {
            failures.Add(new ScoreFailure(directory, "explanations directory not found"));
            return [];
        }
        var files = new List<NeuronResultsFile>();
        foreach (string layerDir in Directory.EnumerateDirectories(directory))
        {
            if (!TryParseIndex(Path.GetFileName(layerDir), out int layer)) continue;
            foreach (string file in Directory.EnumerateFiles(layerDir, "*.jsonl"))
            {
                if (TryParseIndex(Path.GetFileNameWithoutExtension(file), out int neuron))
                    files.Add(new NeuronResultsFile(layer, neuron, file));
            }
        }
        if (files.Count == 0)
            failures.Add(new ScoreFailure(directory, "no {layer}/{neuron}.jsonl files found"));
        files.Sort((a, b) => a.Layer != b.Layer ? a.Layer.CompareTo(b.Layer) : a.Neuron.CompareTo(b.Neuron));
        return files;
    }

    private static bool TryParseIndex(string name, out int index)
    {
        index = 0;
        return name.Length > 0 && name.All(char.IsAsciiDigit)
            && int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }
}
