using System.Globalization;
using NeuronEngine.Records;

namespace NeuronEngine.Explain;

/// <summary>Which neurons of a records directory a run works on (`--layers`, `--neurons`, `--sample N --seed S`).</summary>
public sealed record NeuronSelection(string? Layers = null, string? Neurons = null, int? Sample = null, int Seed = 0)
{
    /// <summary>
    /// The chosen neurons, sorted by layer then neuron: those in the given layers and neuron indices
    /// ("all" or e.g. "0,3,5-7"), then, with <see cref="Sample"/>, that many drawn at random with
    /// <see cref="Seed"/> (the same seed draws the same neurons). Throws <see cref="ArgumentException"/>
    /// on a malformed option or one that selects nothing.
    /// </summary>
    public IReadOnlyList<NeuronRecordLocation> Apply(IReadOnlyList<NeuronRecordLocation> available)
    {
        var layers = ParseIndexSet(Layers, "--layers");
        var neurons = ParseIndexSet(Neurons, "--neurons");
        var chosen = available.Where(n => (layers is null || layers.Contains(n.Layer)) && (neurons is null || neurons.Contains(n.Neuron))).ToList();
        if (chosen.Count == 0)
            throw new ArgumentException($"--layers {Layers ?? "all"} --neurons {Neurons ?? "all"}: no neuron records match");
        if (Sample is int n)
        {
            if (n < 1) throw new ArgumentException($"--sample {n}: must be at least 1");
            var random = new Random(Seed);
            var shuffled = chosen.ToArray();
            random.Shuffle(shuffled);
            chosen = shuffled.Take(n).OrderBy(x => x.Layer).ThenBy(x => x.Neuron).ToList();
        }
        return chosen;
    }

    /// <summary>"all" (or nothing) → null; otherwise indices and inclusive ranges "0,3,5-7".</summary>
    internal static HashSet<int>? ParseIndexSet(string? spec, string option)
    {
        if (string.IsNullOrWhiteSpace(spec) || spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        var set = new HashSet<int>();
        foreach (string raw in spec.Split(','))
        {
            string part = raw.Trim();
            var bounds = part.Split('-');
            if (bounds.Length is < 1 or > 2 || !bounds.All(b => int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                throw new ArgumentException($"{option}: '{part}' is not an index or range (expected e.g. all, 0,3,5-7)");
            int lo = int.Parse(bounds[0], CultureInfo.InvariantCulture), hi = int.Parse(bounds[^1], CultureInfo.InvariantCulture);
            if (lo > hi) throw new ArgumentException($"{option}: range '{part}' runs backwards");
            for (int i = lo; i <= hi; i++) set.Add(i);
        }
        return set;
    }
}
