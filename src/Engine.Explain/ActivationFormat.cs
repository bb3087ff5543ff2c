using System.Globalization;
using System.Text;
using NeuronEngine.Records;

namespace NeuronEngine.Explain;

/// <summary>
/// The token-activation-pair text both prompts are built from (DESIGN §5): records between `&lt;start&gt;`
/// and `&lt;end&gt;`, one `token\tvalue` line per token, values normalised to integers 0–10.
/// </summary>
public static class ActivationFormat
{
    /// <summary>The explanation is the completion of this phrase (OpenAI's EXPLANATION_PREFIX).</summary>
    public const string ExplanationPrefix = "the main thing this neuron does is find";

    /// <summary>The value written for tokens whose activation the simulator must predict.</summary>
    public const string UnknownValue = "unknown";

    public const int MaxNormalizedValue = 10;

    /// <summary>Max of the ReLU'd activations over the records shown; 0 when none is positive (NaN ignored).</summary>
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
    /// A token as it appears on its line: newline, carriage return and tab are written as \n, \r, \t so that
    /// every token keeps exactly one line and one tab (GPT-2 has whitespace tokens that would break both).
    /// </summary>
    public static string DisplayToken(string token) =>
        token.Replace("\r", "\\r", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal)
            .Replace("\t", "\\t", StringComparison.Ordinal);

    /// <summary>
    /// The records, each as "&lt;start&gt;\n" + one "token\tvalue" line per token + "\n&lt;end&gt;\n", separated by
    /// a blank line. <paramref name="omitZeros"/> drops tokens whose value is 0; <paramref name="hideValues"/>
    /// writes "unknown" instead of every value (the simulator's question).
    /// </summary>
    public static string RecordsBlock(IReadOnlyList<ActivationRecord> records, double maxActivation, bool omitZeros = false, bool hideValues = false)
    {
        var text = new StringBuilder();
        for (int r = 0; r < records.Count; r++)
        {
            if (r > 0) text.Append('\n');
            var values = Normalize(records[r].Activations, maxActivation);
            var lines = new List<string>(values.Length);
            for (int i = 0; i < values.Length; i++)
            {
                if (omitZeros && values[i] == 0) continue;
                string value = hideValues ? UnknownValue : values[i].ToString(CultureInfo.InvariantCulture);
                lines.Add($"{DisplayToken(records[r].Tokens[i])}\t{value}");
            }
            text.Append("<start>\n").Append(string.Join("\n", lines)).Append("\n<end>\n");
        }
        return text.ToString();
    }

    /// <summary>
    /// A rough token count for the context budget: about 3 characters per token, which over-counts for
    /// English prose and keeps the token-per-line layout (short tokens, tabs, digits) on the safe side.
    /// </summary>
    public static int EstimateTokens(string text) => (text.Length + 2) / 3 + 1;
}
