using NeuronEngine.OpenAi;
namespace NeuronEngine.Related;

/// <summary>The four lists `engine related` computes per neuron (OpenAI's WeightBasedSummaryOfNeuron fields).</summary>
public enum RelatedList
{
    /// <summary>Tokens with the highest input weight (the neuron's pre-activation from the token's embedding).</summary>
    InputPositive,
    /// <summary>… lowest (most negative).</summary>
    InputNegative,
    /// <summary>Tokens whose logit the neuron's output direction raises most.</summary>
    OutputPositive,
    /// <summary>… lowers most.</summary>
    OutputNegative,
}

/// <summary>
/// Per neuron of one layer, a few lists of <see cref="Top"/> (id, value) entries, best first, selected by the keys of
/// <see cref="TokenKeys"/> (positive lists: descending; negative lists: ascending, i.e. most negative first; ties →
/// lower id): the result of `engine related` (ids are tokens) and of `engine connections` (ids are layer·N + neuron).
/// Empty slots (fewer candidates than top) hold id −1 and NaN.
/// </summary>
public class NeuronTopLists
{
    public int Layer { get; }
    public int Neurons { get; }
    public int Top { get; }
    /// <summary>[list][neuron·top + rank]</summary>
    public int[][] Ids { get; }
    /// <summary>[list][neuron·top + rank]</summary>
    public float[][] Values { get; }

    public NeuronTopLists(int layer, int neurons, int top, int lists)
    {
        Layer = layer; Neurons = neurons; Top = top;
        Ids = Enumerable.Range(0, lists).Select(_ => Enumerable.Repeat(-1, neurons * top).ToArray()).ToArray();
        Values = Enumerable.Range(0, lists).Select(_ => Enumerable.Repeat(float.NaN, neurons * top).ToArray()).ToArray();
    }

    /// <summary>
    /// Fills list <paramref name="list"/> from selections whose group g = segment·neurons + neuron (segments ≥ 1):
    /// each neuron's keys over all segments are merged (smallest first) and the first <see cref="Top"/> kept.
    /// </summary>
    public void Fill(int list, TokenTopK selection, bool high)
    {
        int segments = selection.Groups / Neurons;
        if (segments * Neurons != selection.Groups) throw new ArgumentException($"{selection.Groups} groups is not a multiple of {Neurons} neurons");
        Parallel.For(0, Neurons, n =>
        {
            var keys = Enumerable.Range(0, segments).SelectMany(s => selection.Sorted(s * Neurons + n)).Order().Take(Top).ToArray();
            for (int i = 0; i < keys.Length; i++)
            {
                Ids[list][n * Top + i] = TokenKeys.Token(keys[i]);
                Values[list][n * Top + i] = high ? TokenKeys.HighValue(keys[i]) : TokenKeys.LowValue(keys[i]);
            }
        });
    }
}

/// <summary>One layer's related tokens: per <see cref="RelatedList"/>, [neurons, top] token ids and strengths, best first.</summary>
public sealed class RelatedLayer(int layer, int neurons, int top) : NeuronTopLists(layer, neurons, top, ListCount)
{
    public static readonly string[] ListNames = ["input_positive", "input_negative", "output_positive", "output_negative"];
    public const int ListCount = 4;

    public int[][] Tokens => Ids;
    public float[][] Strengths => Values;

    public ReadOnlySpan<int> TokensOf(RelatedList list, int neuron) => Tokens[(int)list].AsSpan(neuron * Top, Top);
    public ReadOnlySpan<float> StrengthsOf(RelatedList list, int neuron) => Strengths[(int)list].AsSpan(neuron * Top, Top);

    public void Fill(RelatedList list, TokenTopK selection, bool high) => Fill((int)list, selection, high);
}

/// <summary>Computes related tokens of a layer on some device (`cpu`, or ILGPU kernels).</summary>
public interface IRelatedTokensDevice : IDisposable
{
    string Name { get; }

    /// <summary>Vocabulary chunks one layer is processed in (the unit of progress).</summary>
    int ChunksPerLayer { get; }

    /// <summary>The layer's four lists; <paramref name="chunkDone"/> is called after each vocabulary chunk.</summary>
    RelatedLayer Compute(int layer, int top, Action? chunkDone = null);
}
