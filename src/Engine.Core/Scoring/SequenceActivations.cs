namespace NeuronEngine.Scoring;

/// <summary>One scored sequence: the neuron's true activations and the simulator's expected values, token by token.</summary>
public sealed record SequenceActivations
{
    public SequenceActivations(double[] trueActivations, double[] expectedActivations)
    {
        ArgumentNullException.ThrowIfNull(trueActivations);
        ArgumentNullException.ThrowIfNull(expectedActivations);
        if (trueActivations.Length != expectedActivations.Length)
            throw new ArgumentException(
                $"{trueActivations.Length} true activations but {expectedActivations.Length} expected activations.");
        TrueActivations = trueActivations;
        ExpectedActivations = expectedActivations;
    }

    public double[] TrueActivations { get; }
    public double[] ExpectedActivations { get; }
    public int Length => TrueActivations.Length;

    /// <summary>Concatenates sequences token by token, in order (scores are over the concatenation, never averaged).</summary>
    public static (double[] True, double[] Expected) Concatenate(IEnumerable<SequenceActivations> sequences)
    {
        var list = sequences as IReadOnlyCollection<SequenceActivations> ?? sequences.ToList();
        int total = list.Sum(s => s.Length);
        var t = new double[total];
        var p = new double[total];
        int at = 0;
        foreach (var s in list)
        {
            s.TrueActivations.CopyTo(t, at);
            s.ExpectedActivations.CopyTo(p, at);
            at += s.Length;
        }
        return (t, p);
    }
}
