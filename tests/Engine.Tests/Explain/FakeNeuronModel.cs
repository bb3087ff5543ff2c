using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// A tiny deterministic "LLM" behind <see cref="FakeLlmServer"/>. The explainer names the token with the
/// highest value in the neuron's records ("the word \"cat\"."); the simulator predicts 8 on that token and
/// 0 elsewhere — in logprobs mode with top logprobs (8: 0.75, 6: 0.25 → expected 7.5; 0: 0.9, 1: 0.1 →
/// 0.1), in json mode as JSON, in echo mode as the same top logprobs at each "unknown" of the echoed prompt
/// (tokenised so that words of 4+ characters split in two and runs of newlines fold into one token, which
/// OpenAI's parser must handle). Replies depend only on the request's content.
/// </summary>
public static partial class FakeNeuronModel
{
    public static FakeLlmReply Reply(FakeLlmRequest request) =>
        request.IsCompletion ? SimulateEcho(request.Prompt)
        : request.IsExplainer ? Explain(request.LastUserText)
        : request.WantsJson ? SimulateJson(request.LastUserText)
        : SimulateWithLogprobs(request.LastUserText);

    public static FakeLlmReply Explain(string userText)
    {
        string first = userText.Split("Same activations", 2)[0];
        var best = Blocks(first).SelectMany(Entries).OrderByDescending(l => int.Parse(l.Value)).First();
        return new FakeLlmReply.Completion($" the word \"{best.Token.Trim()}\".");
    }

    /// <summary>The target word of the (last) explanation and the tokens of the question's (last) block.</summary>
    public static (string Target, string[] Tokens) Question(string text)
    {
        string target = ExplanationTarget().Matches(text).Last().Groups[1].Value;
        return (target, Entries(Blocks(text)[^1]).Select(l => l.Token).ToArray());
    }

    public static int Predict(string target, string token) => token.Trim() == target ? 8 : 0;

    public static (string, double)[] TopLogprobs(int predicted) => predicted == 8
        ? [("8", Math.Log(0.75)), ("6", Math.Log(0.25)), ("unknown", Math.Log(1e-4))]
        : [("0", Math.Log(0.9)), ("1", Math.Log(0.1))];

    public static FakeLlmReply SimulateWithLogprobs(string userText)
    {
        var (target, tokens) = Question(userText);
        var logprobs = new List<(string, double, (string, double)[])> { ("\n<start>\n", 0, [("\n<start>\n", 0)]) };
        foreach (string token in tokens)
        {
            var top = TopLogprobs(Predict(target, token));
            logprobs.Add((token, 0, [(token, 0)]));
            logprobs.Add(("\t", 0, [("\t", 0)]));
            logprobs.Add((top[0].Item1, top[0].Item2, top));
            logprobs.Add(("\n", 0, [("\n", 0)]));
        }
        logprobs.Add(("<end>\n", 0, [("<end>\n", 0)]));
        return new FakeLlmReply.Completion(string.Concat(logprobs.Select(l => l.Item1)), logprobs);
    }

    public static FakeLlmReply SimulateJson(string userText)
    {
        var (target, tokens) = Question(userText);
        var entries = new JsonArray(tokens.Select(t => (JsonNode)new JsonObject { ["token"] = t, ["activation"] = Predict(target, t) }).ToArray());
        return new FakeLlmReply.Completion(new JsonObject { ["activations"] = entries }.ToJsonString());
    }

    /// <summary>Echo mode: the prompt back as tokens; at each "unknown" after a tab, the prediction for that line's token.</summary>
    public static FakeLlmReply SimulateEcho(string prompt)
    {
        string target = ExplanationTarget().Matches(prompt).Last().Groups[1].Value;
        var pieces = EchoTokens(prompt);
        var tokens = new List<(string, (string, double)[])>();
        int offset = 0;
        for (int i = 0; i < pieces.Count; i++)
        {
            string piece = pieces[i];
            if (piece == "unknown" && i > 0 && pieces[i - 1] == "\t")
            {
                // The line's token: after the previous "unknown" line (or "<start>") and its newline, up to the tab.
                int tab = offset - 1;
                int lineStart = Math.Max(prompt.LastIndexOf("unknown\n", tab, StringComparison.Ordinal), prompt.LastIndexOf("<start>\n", tab, StringComparison.Ordinal)) + 8;
                tokens.Add((piece, TopLogprobs(Predict(target, prompt[lineStart..tab]))));
            }
            else tokens.Add((piece, [(piece, -0.5)]));
            offset += piece.Length;
        }
        return new FakeLlmReply.Echo(tokens);
    }

    /// <summary>
    /// A crude tokenizer for echoed prompts: tabs, "&lt;", "&gt;" and "unknown" alone, runs of newlines as one
    /// token, other text split at those, and words of 4+ characters cut after their second character.
    /// </summary>
    public static List<string> EchoTokens(string prompt)
    {
        var tokens = new List<string>();
        foreach (Match m in EchoPiece().Matches(prompt))
        {
            string piece = m.Value;
            if (piece.Length >= 4 && piece is not "unknown" && !piece.Contains('\n')) { tokens.Add(piece[..2]); tokens.Add(piece[2..]); }
            else tokens.Add(piece);
        }
        return tokens;
    }

    /// <summary>The contents of each "&lt;start&gt;\n … \n&lt;end&gt;" block of a prompt or reply.</summary>
    public static List<string> Blocks(string text)
    {
        var blocks = new List<string>();
        for (int at = text.IndexOf("<start>\n", StringComparison.Ordinal); at >= 0; at = text.IndexOf("<start>\n", at, StringComparison.Ordinal))
        {
            at += "<start>\n".Length;
            int end = text.IndexOf("\n<end>", at, StringComparison.Ordinal);
            if (end < 0) break;
            blocks.Add(text[at..end]);
            at = end;
        }
        return blocks;
    }

    /// <summary>The "token\tvalue" entries of a block (value a number or "unknown"); tokens are raw, so a token may be a newline.</summary>
    public static IEnumerable<(string Token, string Value)> Entries(string block) =>
        EntryPattern().Matches(block).Select(m => (m.Groups[1].Value, m.Groups[2].Value));

    [GeneratedRegex("find the word \"([^\"]*)\"")]
    private static partial Regex ExplanationTarget();

    [GeneratedRegex("([\\s\\S]*?)\t(\\d+|unknown)(?:\n|$)")]
    private static partial Regex EntryPattern();

    [GeneratedRegex("\n+|\t|<|>|unknown|[^\n\t<>]+?(?=\n|\t|<|>|unknown|$)")]
    private static partial Regex EchoPiece();

    private static readonly string[] Vocabulary = [" the", " cat", " sat", " on", " mat", "\n", " dog", " ran"];

    /// <summary>The word a test neuron fires on (from <paramref name="vocabulary"/>, default the ASCII one).</summary>
    public static string TargetOf(int layer, int neuron, IReadOnlyList<string>? vocabulary = null) =>
        (vocabulary ?? Vocabulary)[1 + (layer * 3 + neuron) % ((vocabulary ?? Vocabulary).Count - 1)];

    /// <summary>
    /// A test neuron: 8 top records in which its target word fires (4 + 0.1·r) and 6 random ones where it
    /// fires weaker (2.0, every other record); other tokens sit near zero, some slightly negative. Enough for
    /// OpenAI's splits with 2 records per split (4·2 top, 3·2 random).
    /// </summary>
    public static NeuronRecord Record(int layer, int neuron, IReadOnlyList<string>? vocabulary = null)
    {
        var words = vocabulary ?? Vocabulary;
        string target = TargetOf(layer, neuron, words);
        ActivationRecord Make(int r, int salt, bool fires, double peak)
        {
            var tokens = Enumerable.Range(0, 6).Select(i => words[(r * 5 + i * 3 + neuron + salt) % words.Count]).ToArray();
            for (int i = 0; i < tokens.Length; i++) if (tokens[i] == target) tokens[i] = words[0];
            if (fires) tokens[r % 6] = target;
            return new ActivationRecord
            {
                Tokens = tokens,
                Activations = tokens.Select((t, i) => t == target ? peak : i % 3 == 0 ? 0.05 : -0.02).ToArray(),
            };
        }
        return new NeuronRecord
        {
            NeuronId = new NeuronId { LayerIndex = layer, NeuronIndex = neuron },
            MostPositiveActivationRecords = Enumerable.Range(0, 8).Select(r => Make(r, 0, true, 4 + 0.1 * (8 - r))).ToArray(),
            RandomSample = Enumerable.Range(0, 6).Select(r => Make(r, 3, r % 2 == 0, 2.0)).ToArray(),
            Mean = 0.1, Variance = 0.5, Skewness = double.NaN, Kurtosis = 3,
        };
    }

    /// <summary>Writes test records for the given neurons in OpenAI's layout and returns the directory.</summary>
    public static string WriteRecords(string directory, params (int Layer, int Neuron)[] neurons) => WriteRecords(directory, null, neurons);

    /// <summary>Test records over <paramref name="vocabulary"/> (its first word stands in for the target elsewhere).</summary>
    public static string WriteRecords(string directory, IReadOnlyList<string>? vocabulary, params (int Layer, int Neuron)[] neurons)
    {
        foreach (var (layer, neuron) in neurons)
            NeuronRecordFile.Write(NeuronRecordFile.PathFor(directory, layer, neuron), Record(layer, neuron, vocabulary));
        return directory;
    }
}
