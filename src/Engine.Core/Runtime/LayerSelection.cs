namespace NeuronEngine.Runtime;

/// <summary>Parses `--layers`: "all", or a comma list of indices and inclusive ranges ("0,3,5-7").</summary>
public static class LayerSelection
{
    public static int[] Parse(string spec, int layerCount)
    {
        if (string.IsNullOrWhiteSpace(spec) || spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase))
            return Enumerable.Range(0, layerCount).ToArray();
        var layers = new SortedSet<int>();
        foreach (var raw in spec.Split(','))
        {
            var part = raw.Trim();
            var bounds = part.Split('-');
            if (bounds.Length is < 1 or > 2 || !bounds.All(b => int.TryParse(b, out _)))
                throw new ArgumentException($"--layers: '{part}' is not a layer index or range (expected e.g. all, 0,3,5-7)");
            int lo = int.Parse(bounds[0]), hi = int.Parse(bounds[^1]);
            if (lo > hi) throw new ArgumentException($"--layers: range '{part}' runs backwards");
            if (lo < 0 || hi >= layerCount)
                throw new ArgumentException($"--layers: '{part}' is outside the model's layers 0-{layerCount - 1}");
            for (int l = lo; l <= hi; l++) layers.Add(l);
        }
        return layers.ToArray();
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
