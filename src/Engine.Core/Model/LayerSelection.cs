using System.Globalization;

namespace NeuronEngine.Model;

/// <summary>Parses `--layers` (and other index options): "all", or a comma list of indices and inclusive ranges ("0,3,5-7").</summary>
public static class LayerSelection
{
    public static int[] Parse(string spec, int layerCount)
    {
        var layers = ParseIndexSet(spec, "--layers", "a layer index");
        if (layers is null) return Enumerable.Range(0, layerCount).ToArray();
        if (layers.Max >= layerCount)
            throw new ArgumentException($"--layers: '{layers.Max}' is outside the model's layers 0-{layerCount - 1}");
        return layers.ToArray();
    }

    /// <summary>
    /// "all" (or the option not given: null) → null; otherwise the set of indices and inclusive ranges ("0,3,5-7").
    /// An empty value is an error, not "all" (an unset shell variable should not select every layer). Errors name
    /// <paramref name="option"/> and say what an item should be (<paramref name="item"/>, e.g. "an index").
    /// </summary>
    public static SortedSet<int>? ParseIndexSet(string? spec, string option, string item = "an index")
    {
        if (spec is null || spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        if (string.IsNullOrWhiteSpace(spec)) throw new ArgumentException($"{option}: empty value (expected e.g. all, 0,3,5-7)");
        var set = new SortedSet<int>();
        foreach (var raw in spec.Split(','))
        {
            var part = raw.Trim();
            var bounds = part.Split('-');
            if (bounds.Length is < 1 or > 2 || !bounds.All(b => int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                throw new ArgumentException($"{option}: '{part}' is not {item} or range (expected e.g. all, 0,3,5-7)");
            int lo = int.Parse(bounds[0], CultureInfo.InvariantCulture), hi = int.Parse(bounds[^1], CultureInfo.InvariantCulture);
            if (lo > hi) throw new ArgumentException($"{option}: range '{part}' runs backwards");
            for (int i = lo; i <= hi; i++) set.Add(i);
        }
        return set;
    }

    /// <summary>The compact form written to manifests and metadata: "0-2,5".</summary>
    public static string Format(IReadOnlyList<int> layers)
    {
        var parts = new List<string>();
        for (int i = 0; i < layers.Count;)
        {
            int j = i;
            while (j + 1 < layers.Count && layers[j + 1] == layers[j] + 1) j++;
            parts.Add(i == j ? $"{layers[i]}" : $"{layers[i]}-{layers[j]}");
            i = j + 1;
        }
        return string.Join(",", parts);
    }
}
