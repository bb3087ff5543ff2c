using System.Globalization;
using System.Runtime.CompilerServices;
using NeuronEngine.Explain;
using NeuronEngine.Records;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// The prompts for fixed inputs, compared byte for byte with golden/*.txt, and checked to contain OpenAI's
/// record blocks verbatim. After a deliberate prompt change, regenerate with UPDATE_GOLDEN=1 and review the diff.
/// </summary>
public class PromptGoldenTests
{
    private static readonly ActivationRecord[] Records =
    [
        new() { Tokens = ["The", " cat", " sat", "\n", " on", "\tmat"], Activations = [0, 2.5, -1, 0.24, double.NaN, 5] },
        new() { Tokens = [" a", " cat", "!"], Activations = [0.49, 4.99, 0] },
    ];

    /// <summary>
    /// OpenAI's format_activation_records (activation_records.py), written here from its definition and
    /// independently of the engine: "\n&lt;start&gt;\n" + "\n&lt;end&gt;\n&lt;start&gt;\n".join(records as
    /// "\n".join(f"{token}\t{value}")) + "\n&lt;end&gt;\n", value min(10, floor(10·relu(x)/max)), "unknown"
    /// where hidden or before the record's start index, zeros dropped when asked.
    /// </summary>
    private static string OpenAiBlock(IReadOnlyList<ActivationRecord> records, double max, bool omitZeros = false,
        IReadOnlyList<int>? startIndices = null, bool hideActivations = false)
    {
        var formatted = new List<string>();
        for (int r = 0; r < records.Count; r++)
        {
            var entries = new List<string>();
            var values = records[r].Activations.Select(x => max <= 0 ? 0 : (int)Math.Min(10, Math.Floor(10 * (x > 0 ? x : 0) / max))).ToArray();
            int index = 0;
            for (int i = 0; i < values.Length; i++)
            {
                if (omitZeros && values[i] == 0) continue;
                bool hidden = hideActivations || index < (startIndices?[r] ?? 0);
                entries.Add(records[r].Tokens[i] + "\t" + (hidden ? "unknown" : values[i].ToString(CultureInfo.InvariantCulture)));
                index++;
            }
            formatted.Add(string.Join("\n", entries));
        }
        return "\n<start>\n" + string.Join("\n<end>\n<start>\n", formatted) + "\n<end>\n";
    }

    [Fact]
    public void TheRecordBlockIsOpenAisLiterally()
    {
        var records = new[]
        {
            new ActivationRecord { Tokens = ["a", "\n", "\tb"], Activations = [2, 0, 1] },
            new ActivationRecord { Tokens = [" c"], Activations = [-1] },
        };
        // Records back to back (no blank line), tokens raw: the newline token is a newline, the tab token a tab.
        Assert.Equal("\n<start>\na\t10\n\n\t0\n\tb\t5\n<end>\n<start>\n c\t0\n<end>\n", ActivationFormat.FormatActivationRecords(records, 2));
        Assert.Equal("\n<start>\na\t10\n\tb\t5\n<end>\n<start>\n\n<end>\n", ActivationFormat.FormatActivationRecords(records, 2, omitZeros: true));
        Assert.Equal("\n<start>\na\tunknown\n\n\tunknown\n\tb\t5\n<end>\n<start>\n c\t0\n<end>\n", ActivationFormat.FormatActivationRecords(records, 2, firstRevealed: [2, 0]));
        Assert.Equal("\n<start>\na\tunknown\n\n\tunknown\n<end>\n", ActivationFormat.FormatSequencesForSimulation([["a", "\n"]]));
    }

    [Fact]
    public void RecordsBlockNormalisesByTheMaxOverTheRecordsShown()
    {
        double max = ActivationFormat.MaxActivation(Records);
        Assert.Equal(5, max);
        string block = ActivationFormat.FormatActivationRecords(Records, max);
        string omitted = ActivationFormat.FormatActivationRecords(Records, max, omitZeros: true);
        string hidden = ActivationFormat.FormatActivationRecords(Records, max, hideValues: true);
        Assert.Equal(OpenAiBlock(Records, max), block);
        Assert.Equal(OpenAiBlock(Records, max, omitZeros: true), omitted);
        Assert.Equal(OpenAiBlock(Records, max, hideActivations: true), hidden);
        Assert.Equal(OpenAiBlock(Records, max, startIndices: [3, 1]), ActivationFormat.FormatActivationRecords(Records, max, firstRevealed: [3, 1]));
        Assert.Equal(hidden, ActivationFormat.FormatSequencesForSimulation(Records.Select(r => (IReadOnlyList<string>)r.Tokens).ToArray()));
        Golden("records-block.txt", block + "---- zeros omitted ----" + omitted + "---- values hidden ----" + hidden);
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
        var messages = ExplainerPrompt.Build(Records, FewShotExamples.All);
        Golden("explainer-prompt.txt", Render(messages));
        // OpenAI's chat boundaries: user messages open with "\n\nNeuron i", assistant answers with a space.
        Assert.All(messages.Where(m => m.Role == LlmRole.User), m => Assert.StartsWith("\n\nNeuron ", m.Text));
        Assert.All(messages.Where(m => m.Role == LlmRole.Assistant), m => Assert.Matches("^ [^ ].*\\.$", m.Text));
        Assert.Equal($"\n\nNeuron 3\nActivations:{OpenAiBlock(Records, 5)}\nExplanation of neuron 3 behavior: the main thing this neuron does is find", messages[^1].Text);
    }

    [Fact]
    public void TheZeroFilteredRepeatAppearsBelowTwentyPercentNonZero()
    {
        var sparse = new ActivationRecord { Tokens = [.. Enumerable.Range(0, 6).Select(i => $" t{i}")], Activations = [0, 0, 3, 0, 0, 0] };
        Assert.Contains("\nSame activations, but with all zeros filtered out:\n<start>\n t2\t10\n<end>\n\nExplanation of neuron 1 behavior:", ExplainerPrompt.NeuronMessage(1, [sparse]));
        var dense = sparse with { Activations = [0, 1, 3, 0, 0, 0] }; // 2 of 6 = 33%
        Assert.DoesNotContain("Same activations", ExplainerPrompt.NeuronMessage(1, [dense]));
    }

    [Fact]
    public void AFixtureNeuronsPromptsHoldOpenAisBlocksVerbatim()
    {
        var record = FakeNeuronModel.Record(0, 1);
        var train = RecordSplits.Train(record, 2).Select(r => r.Record).ToArray();
        var explainer = ExplainerPrompt.Build(train, FewShotExamples.All);
        Assert.Contains(OpenAiBlock(train, ActivationFormat.MaxActivation(train)), explainer[^1].Text);
        Golden("fixture-explainer-prompt.txt", Render(explainer));

        var tokens = RecordSplits.Valid(record, 2)[0].Record.Tokens;
        string unknowns = OpenAiBlock([new ActivationRecord { Tokens = tokens, Activations = new double[tokens.Length] }], 0, hideActivations: true);
        const string explanation = " the word \" sat\". ";
        string question = $"\n\nNeuron 3\nExplanation of neuron 3 behavior: the main thing this neuron does is find the word \" sat\".\nActivations: {unknowns}";
        foreach (var mode in new[] { SimulatorMode.Logprobs, SimulatorMode.Json })
            Assert.Equal(question, SimulatorPrompt.Build(explanation, tokens, FewShotExamples.All, mode)[^1].Text);
        string echo = SimulatorPrompt.BuildEcho(explanation, tokens, FewShotExamples.All);
        Assert.EndsWith(question, echo);
        var example = FewShotExamples.All[0];
        Assert.Contains("Activations: " + OpenAiBlock(example.Records, ActivationFormat.MaxActivation(example.Records), startIndices: example.FirstRevealed), echo);
        Golden("fixture-simulator-echo-prompt.txt", echo);
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
    [InlineData(SimulatorMode.Echo, "simulator-echo-prompt.txt")]
    public void SimulatorPrompts(SimulatorMode mode, string golden) =>
        Golden(golden, mode == SimulatorMode.Echo
            ? SimulatorPrompt.BuildEcho("the word \"cat\"", Records[0].Tokens, FewShotExamples.All)
            : Render(SimulatorPrompt.Build("the word \"cat\"", Records[0].Tokens, FewShotExamples.All, mode)));

    [Theory]
    [InlineData(" words related to cats.", "words related to cats.", "words related to cats")]
    [InlineData("the main thing this neuron does is find words related to cats.\nMore text", "the main thing this neuron does is find words related to cats.\nMore text", "words related to cats")]
    [InlineData("\"closing brackets\"", "\"closing brackets\"", "closing brackets")]
    [InlineData(" the word \"cat\".\n", "the word \"cat\".", "the word \"cat\"")]
    [InlineData("  \n ", null, null)]
    public void TheCompletionIsKeptAsOpenAiKeepsItAndCleanedBeside(string reply, string? kept, string? cleaned)
    {
        Assert.Equal(kept, ExplainerPrompt.Completion(reply));
        Assert.Equal(cleaned, ExplainerPrompt.CleanExplanation(reply));
    }

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
