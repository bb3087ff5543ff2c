using System.Runtime.CompilerServices;
using NeuronEngine.Explain;
using NeuronEngine.Records;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// The prompts for fixed inputs, compared byte for byte with golden/*.txt. After a deliberate prompt
/// change, regenerate with UPDATE_GOLDEN=1 and review the diff.
/// </summary>
public class PromptGoldenTests
{
    private static readonly ActivationRecord[] Records =
    [
        new() { Tokens = ["The", " cat", " sat", "\n", " on", "\tmat"], Activations = [0, 2.5, -1, 0.24, double.NaN, 5] },
        new() { Tokens = [" a", " cat", "!"], Activations = [0.49, 4.99, 0] },
    ];

    [Fact]
    public void RecordsBlockNormalisesByTheMaxOverTheRecordsShown()
    {
        double max = ActivationFormat.MaxActivation(Records);
        Assert.Equal(5, max);
        Golden("records-block.txt", ActivationFormat.RecordsBlock(Records, max)
            + "---- zeros omitted ----\n" + ActivationFormat.RecordsBlock(Records, max, omitZeros: true)
            + "---- values hidden ----\n" + ActivationFormat.RecordsBlock(Records, max, hideValues: true));
    }

    [Fact]
    public void Normalisation()
    {
        // min(10, floor(10·max(x,0)/max)): negatives and NaN are 0, values above max clamp to 10.
        Assert.Equal([0, 5, 0, 0, 0, 10, 9, 10], ActivationFormat.Normalize([0, 2.5, -1, 0.49, double.NaN, 5, 4.99, 7], 5));
        Assert.Equal([0, 0], ActivationFormat.Normalize([-1, -2], ActivationFormat.MaxActivation([new ActivationRecord { Tokens = ["a", "b"], Activations = [-1, -2] }])));
    }

    [Fact]
    public void ExplainerPromptWithFewShotExamplesAndTheZeroFilteredRepeat()
    {
        // 3 of 9 values are non-zero here (33%) and 5 of 18 in the first example: no repeat; the second example (4 of 23, 17%) gets one.
        Golden("explainer-prompt.txt", Render(ExplainerPrompt.Build(Records, FewShotExamples.All)));
    }

    [Fact]
    public void TheZeroFilteredRepeatAppearsBelowTwentyPercentNonZero()
    {
        var sparse = new ActivationRecord { Tokens = [.. Enumerable.Range(0, 6).Select(i => $" t{i}")], Activations = [0, 0, 3, 0, 0, 0] };
        Assert.Contains("Same activations, but with all zeros filtered out:\n<start>\n t2\t10\n<end>\n", ExplainerPrompt.NeuronMessage(1, [sparse]));
        var dense = sparse with { Activations = [0, 1, 3, 0, 0, 0] }; // 2 of 6 = 33%
        Assert.DoesNotContain("Same activations", ExplainerPrompt.NeuronMessage(1, [dense]));
    }

    [Fact]
    public void PromptsShrinkToFitTheContextBudget()
    {
        var many = Enumerable.Range(0, 5).Select(_ => Records[0]).ToArray();
        var full = ExplainerPrompt.BuildToFit(many, FewShotExamples.All, 100_000)!;
        Assert.Equal((5, 2), (full.RecordsShown, full.ExamplesShown));
        var noExamples = ExplainerPrompt.BuildToFit(many, FewShotExamples.All, full.EstimatedTokens - 1)!;
        Assert.True(noExamples.ExamplesShown < 2 && noExamples.EstimatedTokens < full.EstimatedTokens);
        var bare = ExplainerPrompt.BuildToFit(many, [], 100_000)!;
        var fewer = ExplainerPrompt.BuildToFit(many, FewShotExamples.All, bare.EstimatedTokens - 1)!;
        Assert.Equal(0, fewer.ExamplesShown);
        Assert.True(fewer.RecordsShown < 5);
        Assert.Null(ExplainerPrompt.BuildToFit(many, FewShotExamples.All, 10));
    }

    [Theory]
    [InlineData(SimulatorMode.Logprobs, "simulator-logprobs-prompt.txt")]
    [InlineData(SimulatorMode.Json, "simulator-json-prompt.txt")]
    public void SimulatorPrompts(SimulatorMode mode, string golden) =>
        Golden(golden, Render(SimulatorPrompt.Build("the word \"cat\"", Records[0].Tokens, FewShotExamples.All, mode)));

    [Theory]
    [InlineData(" words related to cats.", "words related to cats")]
    [InlineData("the main thing this neuron does is find words related to cats.\nMore text", "words related to cats")]
    [InlineData("\"closing brackets\"", "closing brackets")]
    [InlineData("the word \"cat\".", "the word \"cat\"")]
    [InlineData("  \n ", null)]
    public void ExplanationsAreReadFromTheReply(string reply, string? expected) =>
        Assert.Equal(expected, ExplainerPrompt.ParseExplanation(reply));

    private static string Render(IReadOnlyList<LlmMessage> messages) =>
        string.Concat(messages.Select(m => $"=== {m.Role.ToString().ToLowerInvariant()} ===\n{m.Text}\n"));

    /// <summary>
    /// Compares with the golden file copied beside the test assembly (Explain/golden/, so the tests also run from the
    /// GPU bundle, where there is no source tree). UPDATE_GOLDEN=1 rewrites the source copy (a developer machine).
    /// </summary>
    private static void Golden(string name, string actual, [CallerFilePath] string source = "")
    {
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
            File.WriteAllText(Path.Combine(Path.GetDirectoryName(source)!, "golden", name), actual);
        string path = Path.Combine(AppContext.BaseDirectory, "Explain", "golden", name);
        Assert.True(File.Exists(path), $"{path} is missing; run with UPDATE_GOLDEN=1 to create it, then rebuild");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}
