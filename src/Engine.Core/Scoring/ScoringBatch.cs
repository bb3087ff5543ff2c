namespace NeuronEngine.Scoring;

/// <summary>
/// Many neurons' scored tokens packed for a batched scorer (CPU now, GPU later): flat arrays and
/// offsets, no per-neuron objects. "Neuron" i here is any set of sequences scored together (the score
/// runner uses one per scored explanation, and one per single sequence for per-sequence scores).
/// Neuron i owns tokens [NeuronOffsets[i], NeuronOffsets[i+1]) of both value arrays, its sequences laid
/// end to end; the first TopTokenCounts[i] of those tokens belong to top-activating sequences and the
/// rest to random ones.
/// Values are float (what a device holds and what simulations are precise to); scorers accumulate in double.
/// </summary>
public sealed class ScoringBatch
{
    /// <summary>Results per neuron from <see cref="IBatchScorer.Score"/>: one per <see cref="ScoreVariant"/>.</summary>
    public const int VariantsPerNeuron = 3;

    public ScoringBatch(float[] trueActivations, float[] expectedActivations, int[] neuronOffsets, int[] topTokenCounts)
    {
        ArgumentNullException.ThrowIfNull(trueActivations);
        ArgumentNullException.ThrowIfNull(expectedActivations);
        ArgumentNullException.ThrowIfNull(neuronOffsets);
        ArgumentNullException.ThrowIfNull(topTokenCounts);
        if (trueActivations.Length != expectedActivations.Length)
            throw new ArgumentException(
                $"{trueActivations.Length} true activations but {expectedActivations.Length} expected activations.");
        if (neuronOffsets.Length != topTokenCounts.Length + 1)
            throw new ArgumentException(
                $"{neuronOffsets.Length} offsets for {topTokenCounts.Length} neurons; expected one more offset than neurons.");
        if (neuronOffsets[0] != 0 || neuronOffsets[^1] != trueActivations.Length)
            throw new ArgumentException(
                $"Offsets must start at 0 and end at the token count {trueActivations.Length}.");
        for (int i = 0; i < topTokenCounts.Length; i++)
        {
            int length = neuronOffsets[i + 1] - neuronOffsets[i];
            if (length < 0)
                throw new ArgumentException($"Offsets decrease at neuron {i}.");
            if (topTokenCounts[i] < 0 || topTokenCounts[i] > length)
                throw new ArgumentException($"Neuron {i}: top token count {topTokenCounts[i]} outside 0..{length}.");
        }
        TrueActivations = trueActivations;
        ExpectedActivations = expectedActivations;
        NeuronOffsets = neuronOffsets;
        TopTokenCounts = topTokenCounts;
    }

    /// <summary>True activations of every neuron's tokens, end to end.</summary>
    public float[] TrueActivations { get; }

    /// <summary>Simulated (expected) activations, aligned with <see cref="TrueActivations"/>.</summary>
    public float[] ExpectedActivations { get; }

    /// <summary>NeuronCount + 1 token offsets; neuron i spans [NeuronOffsets[i], NeuronOffsets[i+1]).</summary>
    public int[] NeuronOffsets { get; }

    /// <summary>Per neuron, how many of its leading tokens come from top-activating sequences.</summary>
    public int[] TopTokenCounts { get; }

    public int NeuronCount => TopTokenCounts.Length;
    public int TokenCount => TrueActivations.Length;

    /// <summary>Where neuron <paramref name="neuron"/>'s <paramref name="variant"/> sits in a scorer's result array.</summary>
    public static int ResultIndex(int neuron, ScoreVariant variant) => neuron * VariantsPerNeuron + (int)variant;
}

/// <summary>Appends neurons' sequences into the flat layout of a <see cref="ScoringBatch"/>.</summary>
public sealed class ScoringBatchBuilder
{
    private readonly List<float> _true = [];
    private readonly List<float> _expected = [];
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

    public ScoringBatch Build() => new([.. _true], [.. _expected], [.. _offsets], [.. _topTokens]);

    private void Append(IReadOnlyList<double> trueActivations, IReadOnlyList<double> expectedActivations)
    {
        for (int i = 0; i < trueActivations.Count; i++)
        {
            _true.Add((float)trueActivations[i]);
            _expected.Add((float)expectedActivations[i]);
        }
    }

    private int Close(int topTokens)
    {
        _offsets.Add(_true.Count);
        _topTokens.Add(topTokens);
        return _topTokens.Count - 1;
    }
}
