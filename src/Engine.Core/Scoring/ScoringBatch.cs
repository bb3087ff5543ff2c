namespace NeuronEngine.Scoring;

/// <summary>
/// Many neurons' scored tokens packed for a batched scorer (CPU or device): flat arrays and
/// offsets, no per-neuron objects. "Neuron" i here is any set of sequences scored together (the score
/// runner uses one per scored explanation, and one per single sequence for per-sequence scores).
/// Neuron i owns tokens [NeuronOffsets[i], NeuronOffsets[i+1]) of both value arrays, its sequences laid
/// end to end; the first TopTokenCounts[i] of those tokens belong to top-activating sequences and the
/// rest to random ones.
/// A batch holds the values either as read (double: <see cref="ScoringBatchBuilder"/>, which the host scorer sums
/// without rounding them) or as float (what a device holds; <see cref="TrueActivations"/> converts once when asked).
/// Scorers accumulate in double either way.
/// </summary>
public sealed class ScoringBatch
{
    /// <summary>Results per neuron from <see cref="IBatchScorer.Score"/>: one per <see cref="ScoreVariant"/>.</summary>
    public const int VariantsPerNeuron = 3;

    /// <summary>A batch of float values (a device's precision).</summary>
    public ScoringBatch(float[] trueActivations, float[] expectedActivations, int[] neuronOffsets, int[] topTokenCounts)
        : this(trueActivations?.Length ?? -1, expectedActivations?.Length ?? -1, neuronOffsets, topTokenCounts)
    {
        _true = trueActivations;
        _expected = expectedActivations;
    }

    /// <summary>A batch of the values as read (the host scorer sums them without rounding to float).</summary>
    public ScoringBatch(double[] trueActivations, double[] expectedActivations, int[] neuronOffsets, int[] topTokenCounts)
        : this(trueActivations?.Length ?? -1, expectedActivations?.Length ?? -1, neuronOffsets, topTokenCounts)
    {
        TrueValues = trueActivations;
        ExpectedValues = expectedActivations;
    }

    private ScoringBatch(int trueCount, int expectedCount, int[] neuronOffsets, int[] topTokenCounts)
    {
        if (trueCount < 0) throw new ArgumentNullException("trueActivations");
        if (expectedCount < 0) throw new ArgumentNullException("expectedActivations");
        ArgumentNullException.ThrowIfNull(neuronOffsets);
        ArgumentNullException.ThrowIfNull(topTokenCounts);
        if (trueCount != expectedCount)
            throw new ArgumentException(
                $"{trueCount} true activations but {expectedCount} expected activations.");
        if (neuronOffsets.Length != topTokenCounts.Length + 1)
            throw new ArgumentException(
                $"{neuronOffsets.Length} offsets for {topTokenCounts.Length} neurons; expected one more offset than neurons.");
        if (neuronOffsets[0] != 0 || neuronOffsets[^1] != trueCount)
            throw new ArgumentException(
                $"Offsets must start at 0 and end at the token count {trueCount}.");
        for (int i = 0; i < topTokenCounts.Length; i++)
        {
            int length = neuronOffsets[i + 1] - neuronOffsets[i];
            if (length < 0)
                throw new ArgumentException($"Offsets decrease at neuron {i}.");
            if (topTokenCounts[i] < 0 || topTokenCounts[i] > length)
                throw new ArgumentException($"Neuron {i}: top token count {topTokenCounts[i]} outside 0..{length}.");
        }
        NeuronOffsets = neuronOffsets;
        TopTokenCounts = topTokenCounts;
        TokenCount = trueCount;
    }

    private float[]? _true, _expected;

    /// <summary>The true activations as read, when the batch was built from them (null for a float batch).</summary>
    public double[]? TrueValues { get; }

    /// <summary>The expected activations as read, aligned with <see cref="TrueValues"/> (null for a float batch).</summary>
    public double[]? ExpectedValues { get; }

    /// <summary>True activations of every neuron's tokens, end to end, as float (converted once from the values as read).</summary>
    public float[] TrueActivations => _true ??= ToSingle(TrueValues!);

    /// <summary>Simulated (expected) activations as float, aligned with <see cref="TrueActivations"/>.</summary>
    public float[] ExpectedActivations => _expected ??= ToSingle(ExpectedValues!);

    /// <summary>NeuronCount + 1 token offsets; neuron i spans [NeuronOffsets[i], NeuronOffsets[i+1]).</summary>
    public int[] NeuronOffsets { get; }

    /// <summary>Per neuron, how many of its leading tokens come from top-activating sequences.</summary>
    public int[] TopTokenCounts { get; }

    public int NeuronCount => TopTokenCounts.Length;
    public int TokenCount { get; }

    /// <summary>Where neuron <paramref name="neuron"/>'s <paramref name="variant"/> sits in a scorer's result array.</summary>
    public static int ResultIndex(int neuron, ScoreVariant variant) => neuron * VariantsPerNeuron + (int)variant;

    private static float[] ToSingle(double[] values)
    {
        var single = new float[values.Length];
        for (int i = 0; i < values.Length; i++) single[i] = (float)values[i];
        return single;
    }
}

/// <summary>Appends neurons' sequences into the flat layout of a <see cref="ScoringBatch"/>.</summary>
internal sealed class ScoringBatchBuilder
{
    private readonly List<double> _true = [];
    private readonly List<double> _expected = [];
    private readonly List<int> _offsets = [0];
    private readonly List<int> _topTokens = [];

    public int NeuronCount => _topTokens.Count;

    /// <summary>
    /// Adds one neuron whose first <paramref name="topSequenceCount"/> sequences are top-activating and the
    /// rest random. Returns the neuron's index in the batch.
    /// </summary>
    public int AddNeuron(IReadOnlyList<SequenceActivations> sequences, int topSequenceCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(topSequenceCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(topSequenceCount, sequences.Count);
        int topTokens = 0;
        for (int s = 0; s < sequences.Count; s++)
        {
            Append(sequences[s].TrueActivations, sequences[s].ExpectedActivations);
            if (s < topSequenceCount) topTokens += sequences[s].Length;
        }
        return Close(topTokens);
    }

    /// <summary>Adds one sequence as a neuron of its own (all of its tokens counted as top).</summary>
    public int AddSequence(IReadOnlyList<double> trueActivations, IReadOnlyList<double> expectedActivations)
    {
        if (trueActivations.Count != expectedActivations.Count)
            throw new ArgumentException(
                $"{trueActivations.Count} true activations but {expectedActivations.Count} expected activations.");
        Append(trueActivations, expectedActivations);
        return Close(trueActivations.Count);
    }

    public ScoringBatch Build() => new(_true.ToArray(), _expected.ToArray(), _offsets.ToArray(), _topTokens.ToArray());

    private void Append(IReadOnlyList<double> trueActivations, IReadOnlyList<double> expectedActivations)
    {
        for (int i = 0; i < trueActivations.Count; i++)
        {
            _true.Add(trueActivations[i]);
            _expected.Add(expectedActivations[i]);
        }
    }

    private int Close(int topTokens)
    {
        _offsets.Add(_true.Count);
        _topTokens.Add(topTokens);
        return _topTokens.Count - 1;
    }
}
