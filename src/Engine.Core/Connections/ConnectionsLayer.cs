using NeuronEngine.Related;

namespace NeuronEngine.Connections;

/// <summary>The four lists `engine connections` computes per neuron (docs/related.md, "Neuron-to-neuron connections").</summary>
public enum ConnectionList
{
    /// <summary>Neurons of earlier layers whose connection to this one is most positive.</summary>
    UpstreamPositive,
    /// <summary>… most negative.</summary>
    UpstreamNegative,
    /// <summary>Neurons of later layers this one connects to most positively.</summary>
    DownstreamPositive,
    /// <summary>… most negatively.</summary>
    DownstreamNegative,
}

/// <summary>
/// One layer's connections: per <see cref="ConnectionList"/>, [neurons, top] connected neurons (as ids layer·N + neuron,
/// N = <see cref="NeuronsPerLayer"/>) and weights, best first (positive lists descending, negative lists most negative
/// first; ties → the lower layer, then the lower neuron). Empty slots (fewer candidates than top; no earlier layer for
/// layer 0, no later one for the last) hold id −1 and NaN.
/// </summary>
public sealed class ConnectionsLayer(int layer, int neuronsPerLayer, int top) : NeuronTopLists(layer, neuronsPerLayer, top, ListCount)
{
    public static readonly string[] ListNames = ["upstream_positive", "upstream_negative", "downstream_positive", "downstream_negative"];
    public const int ListCount = 4;

    public int NeuronsPerLayer => Neurons;

    /// <summary>The id of neuron <paramref name="neuron"/> of layer <paramref name="layer"/> in the selection keys.</summary>
    public static int Id(int layer, int neuron, int neuronsPerLayer) => layer * neuronsPerLayer + neuron;

    /// <summary>The connected neurons of <paramref name="neuron"/> in <paramref name="list"/>, best first, without empty slots.</summary>
    public IEnumerable<(int Layer, int Neuron, float Weight)> Of(ConnectionList list, int neuron)
    {
        for (int i = 0; i < Top; i++)
        {
            int id = Ids[(int)list][neuron * Top + i];
            if (id < 0) yield break;
            yield return (id / NeuronsPerLayer, id % NeuronsPerLayer, Values[(int)list][neuron * Top + i]);
        }
    }

    /// <summary>Fills the layer's lists from the host accumulators of its upstream and downstream candidates.</summary>
    public static ConnectionsLayer From(int layer, int neuronsPerLayer, int top, TopAndBottom upstream, TopAndBottom downstream)
    {
        var result = new ConnectionsLayer(layer, neuronsPerLayer, top);
        result.Fill((int)ConnectionList.UpstreamPositive, upstream.High, high: true);
        result.Fill((int)ConnectionList.UpstreamNegative, upstream.Low, high: false);
        result.Fill((int)ConnectionList.DownstreamPositive, downstream.High, high: true);
        result.Fill((int)ConnectionList.DownstreamNegative, downstream.Low, high: false);
        return result;
    }
}

/// <summary>
/// Computes the neuron-to-neuron weights of layer pairs on some device (`cpu`, or ILGPU kernels): for a source layer
/// l₁ and each later target layer l₂ the [N, N] product W(l₁, l₂) = c_proj(l₁) · diag(ln_2.g(l₂)) · c_fc(l₂), whose
/// entry (n₁, n₂) is OpenAI's connection weight from (l₁, n₁) to (l₂, n₂), merged into top-k lists.
/// </summary>
public interface IConnectionsDevice : IDisposable
{
    string Name { get; }

    /// <summary>
    /// The pairs (<paramref name="source"/>, t) for t in <paramref name="targets"/>, one product each: every weight
    /// W[n₁, n₂] is offered to <paramref name="downstream"/> (group n₁, id t·N + n₂) when it is given, and to
    /// <paramref name="upstream"/>(t) (group n₂, id source·N + n₁) when that gives lists; <paramref name="pairDone"/> after each pair.
    /// </summary>
    void Row(int source, IReadOnlyList<int> targets, int top, TopAndBottom? downstream, Func<int, TopAndBottom?> upstream, Action? pairDone = null);
}
