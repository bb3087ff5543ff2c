using NeuronEngine.Connections;
using NeuronEngine.Model;

namespace NeuronEngine.Tests.Connections;

/// <summary>
/// OpenAI's neuron-to-neuron weights computed the slow, obvious way in float64 from the stored weights (their README,
/// in Hugging Face's layout): for every pair of layers l₁ &lt; l₂ and every pair of neurons,
/// W[(l₁, n₁) → (l₂, n₂)] = Σ_i c_proj(l₁)[n₁, i] · γ₂(l₂)[i] · c_fc(l₂)[i, n₂]; then each neuron's lists by a full sort
/// (value, then layer, then neuron). The yardstick of `engine connections`.
/// </summary>
public sealed class BruteForceConnections
{
    private readonly int _layers, _neurons;
    /// <summary>[l₁, l₂] → [N₁ · N₂] weights, for l₁ &lt; l₂.</summary>
    private readonly double[,][] _weights;

    public BruteForceConnections(Gpt2Weights weights)
    {
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp;
        _layers = c.NLayer; _neurons = n;
        double[] D(string name) => weights.Floats(name).ToArray().Select(x => (double)x).ToArray();
        _weights = new double[_layers, _layers][];
        for (int l1 = 0; l1 < _layers; l1++)
        {
            var proj = D($"h.{l1}.mlp.c_proj.weight");
            for (int l2 = l1 + 1; l2 < _layers; l2++)
            {
                var gamma = D($"h.{l2}.ln_2.weight");
                var fc = D($"h.{l2}.mlp.c_fc.weight");
                var w = new double[n * n];
                Parallel.For(0, n, n1 =>
                {
                    for (int n2 = 0; n2 < n; n2++)
                    {
                        double sum = 0;
                        for (int i = 0; i < d; i++) sum += proj[n1 * d + i] * gamma[i] * fc[i * n + n2];
                        w[n1 * n + n2] = sum;
                    }
                });
                _weights[l1, l2] = w;
            }
        }
    }

    /// <summary>The weight of the connection (l₁, n₁) → (l₂, n₂), l₁ &lt; l₂.</summary>
    public double Weight(int l1, int n1, int l2, int n2) => _weights[l1, l2][n1 * _neurons + n2];

    /// <summary>The weight between neuron (layer, neuron) and a connected one, in the direction of <paramref name="list"/>.</summary>
    public double Weight(ConnectionList list, int layer, int neuron, int otherLayer, int otherNeuron) =>
        list is ConnectionList.UpstreamPositive or ConnectionList.UpstreamNegative ? Weight(otherLayer, otherNeuron, layer, neuron) : Weight(layer, neuron, otherLayer, otherNeuron);

    /// <summary>The neuron's list, best first: positive lists by descending weight, negative ones ascending; ties → lower layer, then lower neuron.</summary>
    public (int Layer, int Neuron, double Weight)[] List(ConnectionList list, int layer, int neuron, int top)
    {
        bool upstream = list is ConnectionList.UpstreamPositive or ConnectionList.UpstreamNegative;
        bool high = list is ConnectionList.UpstreamPositive or ConnectionList.DownstreamPositive;
        var others = upstream ? Enumerable.Range(0, layer) : Enumerable.Range(layer + 1, _layers - layer - 1);
        var all = others.SelectMany(l => Enumerable.Range(0, _neurons).Select(n => (Layer: l, Neuron: n, Weight: Weight(list, layer, neuron, l, n))));
        return (high ? all.OrderByDescending(e => e.Weight) : all.OrderBy(e => e.Weight)).ThenBy(e => e.Layer).ThenBy(e => e.Neuron).Take(top).ToArray();
    }
}
