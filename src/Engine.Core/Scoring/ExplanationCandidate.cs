namespace NeuronEngine.Scoring;

/// <summary>
/// A text the explainer wrote to test an explanation (docs/revise.md), as the subject model measured it: the tokens as
/// neuron records show them and the neuron's activation at each.
/// </summary>
public sealed record ProbeTextActivations
{
    public required string Text { get; init; }

    /// <summary>True for the texts written to make the neuron fire, false for the similar ones written not to.</summary>
    public required bool ShouldFire { get; init; }
    public required string[] Tokens { get; init; }
    public required double[] Activations { get; init; }
    public double MaxActivation => Activations.Length == 0 ? 0 : Activations.Max();
}

/// <summary>
/// Where a candidate explanation came from when explanations are revised (`--revise N`): its name ("original",
/// "revision 1", … ; "sample 2", … for further samples), the order it was written in, the probe texts the explainer
/// wrote to test it with their measured activations, and its <see cref="Scoring.GenerationScore"/> (null without texts).
/// </summary>
public sealed record ExplanationCandidate
{
    public const string Original = "original";

    public static string Revision(int step) => $"revision {step}";

    public required string Name { get; init; }

    /// <summary>0 for the first explanation, then 1, 2, … in the order they were written.</summary>
    public required int Order { get; init; }
    public ProbeTextActivations[] ProbeTexts { get; init; } = [];
    public GenerationScore? GenerationScore { get; init; }
}
