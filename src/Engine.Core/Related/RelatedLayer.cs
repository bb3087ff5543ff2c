using NeuronEngine.OpenAi;
namespace NeuronEngine.Related;

/// <summary>The four lists `engine related` computes per neuron (OpenAI's WeightBasedSummaryOfNeuron fields).</summary>
public enum RelatedList
{
    /// <summary>Tokens whose embedding alone drives the neuron's pre-activation highest.</summary>
    InputPositive,
    /// <summary>… lowest (most negative).</summary>
    InputNegative,
    /// <summary>Tokens whose logit the neuron's output direction raises most (direct path).</summary>
    OutputPositive,
    /// <summary>… lowers most.</summary>
    OutputNegative,
}

/// <summary>
/// One layer's related tokens: per list, [neurons, top] token ids and strengths, best first (positive lists:
/// descending; negative lists: ascending, i.e. most negative first). Empty slots (a vocabulary smaller than
/// top) hold token −1 and NaN.
/// </summary>
public sealed class RelatedLayer
{
    public static readonly string[] ListNames = ["input_positive", "input_negative", "output_positive", "output_negative"];
    public const int ListCount = 4;

    public int Layer { get; }
    public int Neurons { get; }
    public int Top { get; }
    public int[][] Tokens { get; }
    public float[][] Strengths { get; }

    public RelatedLayer(int layer, int neurons, int top)
    {
        Layer = layer; Neurons = neurons; Top = top;
        Tokens = Enumerable.Range(0, ListCount).Select(_ => Enumerable.Repeat(-1, neurons * top).ToArray()).ToArray();
        Strengths = Enumerable.Range(0, ListCount).Select(_ => Enumerable.Repeat(float.NaN, neurons * top).ToArray()).ToArray();
    }

    public ReadOnlySpan<int> TokensOf(RelatedList list, int neuron) => Tokens[(int)list].AsSpan(neuron * Top, Top);
    public ReadOnlySpan<float> StrengthsOf(RelatedList list, int neuron) => Strengths[(int)list].AsSpan(neuron * Top, Top);

    /// <summary>
    /// Fills list <paramref name="list"/> from selections whose group g = segment·neurons + neuron (segments ≥ 1):
    /// each neuron's keys over all segments are merged (smallest first) and the first <see cref="Top"/> kept.
    /// </summary>
    public void Fill(RelatedList list, TokenTopK selection, bool high)
    {
        int segments = selection.Groups / Neurons;
        if (segments * Neurons != selection.Groups) throw new ArgumentException($"{selection.Groups} groups is not a multiple of {Neurons} neurons");
        Parallel.For(0, Neurons, n =>
        {
            var keys = Enumerable.Range(0, segments).SelectMany(s => selection.Sorted(s * Neurons + n)).Order().Take(Top).ToArray();
            for (int i = 0; i < keys.Length; i++)
            {
                Tokens[(int)list][n * Top + i] = TokenKeys.Token(keys[i]);
                Strengths[(int)list][n * Top + i] = high ? TokenKeys.HighValue(keys[i]) : TokenKeys.LowValue(keys[i]);
            }
        });
    }
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
