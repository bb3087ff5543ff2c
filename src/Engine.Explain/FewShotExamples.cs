using NeuronEngine.Records;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>
/// A neuron whose behaviour is known, shown to the explainer and simulator before the real one.
/// <paramref name="FirstRevealed"/>[r] is, for record r, the first token whose value the echo simulator's
/// prompt shows (the ones before read "unknown"), as OpenAI's first_revealed_activation_indices: the
/// examples start out "unknown" and then turn into numbers, so at each "unknown" of the real neuron the
/// model expects that a number might come next.
/// </summary>
public sealed record FewShotExample(IReadOnlyList<ActivationRecord> Records, string Explanation, IReadOnlyList<int> FirstRevealed)
{
    public FewShotExample(IReadOnlyList<ActivationRecord> records, string explanation) : this(records, explanation, records.Select(_ => 0).ToArray()) { }
}

/// <summary>
/// Our own few-shot examples (not OpenAI's): two invented neurons, one on prose and one on code, chosen so
/// the examples show a sparse neuron (which gets the zero-filtered repeat), graded values, and newline
/// tokens (written raw, as every token is). Activations are raw values; prompts normalise them like any
/// neuron's.
/// </summary>
public static class FewShotExamples
{
    public static IReadOnlyList<FewShotExample> All { get; } =
    [
        new FewShotExample(
        [
            Record([("We", 0), (" meet", 0), (" every", 0.2), (" Monday", 3.9), (" and", 0), (" Thursday", 4.3), (" at", 0), (" noon", 0.6), (".", 0)]),
            Record([("The", 0), (" shop", 0), (" is", 0), (" closed", 0), (" on", 0.1), (" Sundays", 3.4), (" until", 0), (" May", 0.9), (".", 0)]),
        ], "names of days of the week", [4, 2]),
        new FewShotExample(
        [
            Record([("if", 0), (" (", 0), ("x", 0), (" >", 0), (" 0", 0), (")", 2.4), (" {", 0.3), ("\n", 0), ("    return", 0), (" f", 0), ("(x", 0), (");", 2.9), ("\n", 0), ("}", 1.7)]),
            Record([("print", 0), ("(", 0), ("len", 0), ("(", 0), ("items", 0), ("))", 3.1), ("\n", 0), ("#", 0), (" done", 0)]),
        ], "closing brackets and parentheses in code", [6, 3]),
    ];

    private static ActivationRecord Record((string Token, double Activation)[] pairs) => new()
    {
        Tokens = pairs.Select(p => p.Token).ToArray(),
        Activations = pairs.Select(p => p.Activation).ToArray(),
    };
}
