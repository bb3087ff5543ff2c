using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using NeuronEngine.OpenAi;
using NeuronEngine.Scoring;

namespace NeuronEngine.Explain;

/// <summary>The explainer's test texts for one explanation: those that should make the neuron fire, and similar ones that should not.</summary>
public sealed record ProbeTextRequest(IReadOnlyList<string> ShouldFire, IReadOnlyList<string> ShouldNotFire)
{
    public int Count => ShouldFire.Count + ShouldNotFire.Count;
}

/// <summary>
/// The two prompts of the revision loop (docs/revise.md quotes them): asking the explainer for test texts of an
/// explanation, and showing it the activations those texts measured on the subject model, in OpenAI's record layout
/// (<see cref="ActivationFormat.FormatActivationRecords"/>), for a revised explanation.
/// </summary>
public static partial class RevisionPrompt
{
    public const string TextsSystemMessage =
        "We're studying neurons in a neural network. Each neuron looks for some particular thing in a short document. "
        + "Given an explanation of what a neuron is looking for, write short test texts that check the explanation.";

    /// <summary>How many of <paramref name="k"/> texts should fire (the rest should not): half, the odd one firing.</summary>
    public static (int Fire, int NotFire) Split(int k) => (k - k / 2, k / 2);

    /// <summary>The request for <paramref name="k"/> test texts of <paramref name="explanation"/>.</summary>
    public static IReadOnlyList<LlmMessage> TextsMessages(string explanation, int k)
    {
        var (fire, notFire) = Split(k);
        string user = $"Explanation of the neuron's behavior: {ActivationFormat.ExplanationPrefix} {explanation.Trim()}\n\n"
            + $"Write {fire} short texts (a sentence or two each) that should make this neuron fire strongly if the explanation is right, "
            + $"and {notFire} texts that look similar to those (same topic, words or style) but should not make it fire if the explanation is right. "
            + "Reply with JSON only: {\"should_fire\": [\"…\", …], \"should_not_fire\": [\"…\", …]}.";
        return [new(LlmRole.System, TextsSystemMessage), new(LlmRole.User, user)];
    }

    /// <summary>The JSON schema of the texts reply (sent where the endpoint takes one; every reply is parsed leniently anyway).</summary>
    public const string TextsJsonSchema =
        """{"type":"object","properties":{"should_fire":{"type":"array","items":{"type":"string"}},"should_not_fire":{"type":"array","items":{"type":"string"}}},"required":["should_fire","should_not_fire"],"additionalProperties":false}""";

    /// <summary>
    /// The texts of a reply: the JSON object (also inside a code fence or prose), else lists under headings — a line
    /// naming "not" starts the should-not list; "-", "*", "1." or "1)" items, quotes stripped. Blank texts and repeats are
    /// dropped and each list is cut to what was asked for. Null when no text is usable.
    /// </summary>
    public static ProbeTextRequest? ParseTexts(string reply, int k)
    {
        var (fire, notFire) = Split(k);
        var parsed = FromJson(reply) ?? FromLines(reply);
        if (parsed is null) return null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string[] Clean(IEnumerable<string> texts, int limit) =>
            [.. texts.Select(t => t.Trim()).Where(t => t.Length > 0 && seen.Add(t)).Take(limit)];
        var result = new ProbeTextRequest(Clean(parsed.Value.Fire, fire), Clean(parsed.Value.NotFire, notFire));
        return result.Count == 0 ? null : result;
    }

    private static (List<string> Fire, List<string> NotFire)? FromJson(string reply)
    {
        int start = reply.IndexOf('{'), end = reply.LastIndexOf('}');
        if (start < 0 || end <= start) return null;
        try
        {
            using var doc = JsonDocument.Parse(reply[start..(end + 1)]);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return null;
            List<string> Read(params string[] names)
            {
                foreach (var p in doc.RootElement.EnumerateObject())
                    if (names.Contains(p.Name.ToLowerInvariant().Replace('-', '_')) && p.Value.ValueKind == JsonValueKind.Array)
                        return [.. p.Value.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)];
                return [];
            }
            var texts = (Read("should_fire", "fire", "positive"), Read("should_not_fire", "not_fire", "should_not", "negative"));
            return texts.Item1.Count + texts.Item2.Count == 0 ? null : texts;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static (List<string> Fire, List<string> NotFire)? FromLines(string reply)
    {
        List<string> fire = [], notFire = [];
        var current = fire;
        foreach (var raw in reply.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("```", StringComparison.Ordinal)) continue;
            var item = ListItem().Match(line);
            if (!item.Success)
            {
                // A heading: the should-not list starts at the first that says "not".
                if (NotHeading().IsMatch(line)) current = notFire;
                else if (FireHeading().IsMatch(line)) current = fire;
                continue;
            }
            string text = item.Groups[1].Value.Trim().TrimEnd(',').Trim();
            if (text.Length >= 2 && text[0] == '"' && text[^1] == '"') text = text[1..^1];
            current.Add(text);
        }
        return fire.Count + notFire.Count == 0 ? null : (fire, notFire);
    }

    [GeneratedRegex(@"^(?:[-*•]|\d+[.)])\s+(.+)$")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"\bnot\b|shouldn't|should_not|negative", RegexOptions.IgnoreCase)]
    private static partial Regex NotHeading();

    [GeneratedRegex(@"fire|positive", RegexOptions.IgnoreCase)]
    private static partial Regex FireHeading();

    /// <summary>
    /// The message after the explainer's explanation <paramref name="number"/> that shows what its test texts measured,
    /// values on OpenAI's 0–10 scale relative to <paramref name="recordMax"/> (the neuron's largest activation over its
    /// top records: 10 is as strong as the neuron's strongest record; larger values are capped at 10), and asks for a
    /// revised explanation, again as the completion of "the main thing this neuron does is find".
    /// </summary>
    public static string RevisionMessage(int number, IReadOnlyList<ProbeTextActivations> texts, double recordMax)
    {
        string Block(bool shouldFire)
        {
            var records = texts.Where(t => t.ShouldFire == shouldFire)
                .Select(t => new ActivationRecord { Tokens = t.Tokens, Activations = t.Activations }).ToArray();
            return records.Length == 0 ? " (none)\n" : ActivationFormat.FormatActivationRecords(records, recordMax);
        }
        return new StringBuilder()
            .Append($"\n\nWe tested this explanation of neuron {number} on new texts. Their activations, on the same 0 to 10 scale ")
            .Append("(10 is the neuron's strongest activation on the documents it fires on most):")
            .Append("\nTexts written to make the neuron fire:").Append(Block(true))
            .Append("\nSimilar texts written not to make it fire:").Append(Block(false))
            .Append($"\nA revised explanation of neuron {number} behavior, consistent with all the activations above: {ActivationFormat.ExplanationPrefix}")
            .ToString();
    }
}
