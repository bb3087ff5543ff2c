using System.Globalization;
using System.Text;
using NeuronEngine.Records;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Explain;

/// <summary>
/// OpenAI's token-activation-pair text (neuron_explainer/activations/activation_records.py), which both
/// prompts are built from (docs/design.md §5): records between "&lt;start&gt;" and "&lt;end&gt;", one "token\tvalue"
/// line per token, values normalised to integers 0–10. Tokens are written raw, as OpenAI does: a newline
/// token is a newline, a tab token a tab.
/// </summary>
public static class ActivationFormat
{
    /// <summary>The explanation is the completion of this phrase (OpenAI's EXPLANATION_PREFIX).</summary>
    public const string ExplanationPrefix = "the main thing this neuron does is find";

    /// <summary>The value written for tokens whose activation the simulator must predict (OpenAI's UNKNOWN_ACTIVATION_STRING).</summary>
    public const string UnknownValue = "unknown";

    public const int MaxNormalizedValue = 10;

    /// <summary>Max of the ReLU'd activations over the records shown; 0 when none is positive (NaN ignored, as relu(NaN) is 0 in OpenAI's code).</summary>
    public static double MaxActivation(IEnumerable<ActivationRecord> records)
    {
        double max = 0;
        foreach (var record in records)
            foreach (double a in record.Activations)
                if (a > max) max = a; // NaN compares false, so it never wins
        return max;
    }

    /// <summary>min(10, floor(10·max(x,0)/maxActivation)); all zeros when maxActivation ≤ 0. NaN counts as 0.</summary>
    public static int[] Normalize(IReadOnlyList<double> activations, double maxActivation)
    {
        var values = new int[activations.Count];
        if (!(maxActivation > 0)) return values;
        for (int i = 0; i < values.Length; i++)
        {
            double x = activations[i];
            values[i] = x > 0 ? (int)Math.Min(MaxNormalizedValue, Math.Floor(MaxNormalizedValue * x / maxActivation)) : 0;
        }
        return values;
    }

    /// <summary>Share of the shown tokens whose normalised value is non-zero (decides the zero-filtered repeat).</summary>
    public static double NonZeroProportion(IReadOnlyList<ActivationRecord> records, double maxActivation)
    {
        int total = 0, nonZero = 0;
        foreach (var record in records)
        {
            var values = Normalize(record.Activations, maxActivation);
            total += values.Length;
            nonZero += values.Count(v => v != 0);
        }
        return total == 0 ? 0 : (double)nonZero / total;
    }

    /// <summary>
    /// OpenAI's format_activation_records: "\n&lt;start&gt;\n" + the first record's "token\tvalue" lines +
    /// "\n&lt;end&gt;\n&lt;start&gt;\n" + the next record's … + "\n&lt;end&gt;\n". <paramref name="omitZeros"/> drops
    /// tokens whose value is 0; <paramref name="hideValues"/> writes "unknown" for every value, and
    /// <paramref name="firstRevealed"/>[r] "unknown" for record r's tokens before that index.
    /// </summary>
    public static string FormatActivationRecords(IReadOnlyList<ActivationRecord> records, double maxActivation,
        bool omitZeros = false, IReadOnlyList<int>? firstRevealed = null, bool hideValues = false)
    {
        if (omitZeros && (hideValues || firstRevealed is not null))
            throw new ArgumentException("zeros can only be omitted when every value is shown (as in OpenAI's code)");
        return Join(records.Select((record, r) =>
        {
            var values = Normalize(record.Activations, maxActivation);
            var entries = new List<string>(values.Length);
            int revealFrom = firstRevealed?[r] ?? 0;
            for (int i = 0; i < values.Length; i++)
            {
                if (omitZeros && values[i] == 0) continue;
                string value = hideValues || i < revealFrom ? UnknownValue : values[i].ToString(CultureInfo.InvariantCulture);
                entries.Add($"{record.Tokens[i]}\t{value}");
            }
            return string.Join("\n", entries);
        }));
    }

    /// <summary>OpenAI's format_sequences_for_simulation: the same layout with every value "unknown".</summary>
    public static string FormatSequencesForSimulation(IReadOnlyList<IReadOnlyList<string>> sequences) =>
        Join(sequences.Select(tokens => string.Join("\n", tokens.Select(t => $"{t}\t{UnknownValue}"))));

    private static string Join(IEnumerable<string> records) =>
        new StringBuilder("\n<start>\n").AppendJoin("\n<end>\n<start>\n", records).Append("\n<end>\n").ToString();

    /// <summary>
    /// A token as an error message shows it: newline, carriage return and tab as \n, \r, \t (prompts write
    /// tokens raw; this is only for reading a failure reason).
    /// </summary>
    public static string DisplayToken(string token) =>
        token.Replace("\r", "\\r", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal)
            .Replace("\t", "\\t", StringComparison.Ordinal);

    /// <summary>
    /// A rough token count for the context budget: about 3 characters per token, which over-counts for
    /// English prose and keeps the token-per-line layout (short tokens, tabs, digits) on the safe side.
    /// </summary>
    public static int EstimateTokens(string text) => (text.Length + 2) / 3 + 1;
}
