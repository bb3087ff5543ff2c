using NeuronEngine.Records;
using NeuronEngine.Model;
using NeuronEngine.OpenAi;

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
    public IReadOnlyList<NeuronFile> Apply(IReadOnlyList<NeuronFile> available)
    {
        var layers = LayerSelection.ParseIndexSet(Layers, "--layers");
        var neurons = LayerSelection.ParseIndexSet(Neurons, "--neurons");
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
}
