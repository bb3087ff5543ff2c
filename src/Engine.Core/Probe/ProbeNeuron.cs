using System.Globalization;
using NeuronEngine.Model;

namespace NeuronEngine.Probe;

/// <summary>One MLP neuron of the subject model: its layer and its index within the layer (0 ≤ neuron &lt; 4·d).</summary>
public readonly record struct ProbeNeuron(int Layer, int Neuron)
{
    public override string ToString() => $"{Layer}:{Neuron}";

    /// <summary>
    /// `--neurons 5:131,5:2080` and/or `--layers 0,3-4` (every neuron of those layers) as one list: the listed neurons in
    /// the order given (a repeat kept once), then the whole layers' neurons in layer order. Errors name the option and the
    /// model's range (ArgumentException: exit code 2).
    /// </summary>
    public static IReadOnlyList<ProbeNeuron> Select(string? neurons, string? layers, Gpt2Config config)
    {
        if (neurons is null && layers is null) throw new ArgumentException("give --neurons (e.g. 5:131,5:2080) or --layers (every neuron of those layers)");
        var chosen = new List<ProbeNeuron>();
        var seen = new HashSet<ProbeNeuron>();
        void Add(ProbeNeuron n) { if (seen.Add(n)) chosen.Add(n); }
        if (neurons is not null)
        {
            if (string.IsNullOrWhiteSpace(neurons)) throw new ArgumentException("--neurons: empty value (expected e.g. 5:131,5:2080)");
            foreach (var raw in neurons.Split(','))
                Add(Parse(raw.Trim(), config));
        }
        if (layers is not null)
            foreach (int layer in LayerSelection.Parse(layers, config.NLayer))
                for (int n = 0; n < config.DMlp; n++) Add(new ProbeNeuron(layer, n));
        return chosen;
    }

    private static ProbeNeuron Parse(string item, Gpt2Config config)
    {
        var parts = item.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int layer)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int neuron))
            throw new ArgumentException($"--neurons: '{item}' is not layer:neuron (expected e.g. 5:131,5:2080)");
        if (layer >= config.NLayer)
            throw new ArgumentException($"--neurons: '{item}': layer {layer} is outside the model's layers 0-{config.NLayer - 1}");
        if (neuron >= config.DMlp)
            throw new ArgumentException($"--neurons: '{item}': neuron {neuron} is outside the layer's neurons 0-{config.DMlp - 1}");
        return new ProbeNeuron(layer, neuron);
    }
}
