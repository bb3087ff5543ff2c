using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NeuronEngine.Records;
using NeuronEngine.Scoring;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// A tiny deterministic "LLM" behind <see cref="FakeLlmServer"/>. The explainer names the token with the
/// highest value in the neuron's records ("the word \"cat\""); the simulator predicts 8 on that token and
/// 0 elsewhere — in logprobs mode with top logprobs (8: 0.75, 6: 0.25 → expected 7.5; 0: 0.9, 1: 0.1 →
/// 0.1), in json mode as JSON. Replies depend only on the request's content.
/// </summary>
public static partial class FakeNeuronModel
{
    public static FakeLlmReply Reply(FakeLlmRequest request) =>
        request.IsExplainer ? Explain(request.LastUserText)
        : request.WantsJson ? SimulateJson(request.LastUserText)
        : SimulateWithLogprobs(request.LastUserText);

    public static FakeLlmReply Explain(string userText)
    {
        string first = userText.Split("Same activations", 2)[0];
        var best = ValueLines(first).OrderByDescending(l => int.Parse(l.Value)).First();
        return new FakeLlmReply.Completion($" the word \"{best.Token.Trim()}\".");
    }

    /// <summary>The target word of the explanation and the question's token lines.</summary>
    public static (string Target, string[] Tokens) Question(string userText)
    {
        string target = ExplanationTarget().Match(userText).Groups[1].Value;
        return (target, ValueLines(userText).Select(l => l.Token).ToArray());
    }

    public static int Predict(string target, string token) => token.Trim() == target ? 8 : 0;

    public static FakeLlmReply SimulateWithLogprobs(string userText)
    {
        var (target, tokens) = Question(userText);
        var logprobs = new List<(string, double, (string, double)[])> { ("<start>\n", 0, [("<start>\n", 0)]) };
        foreach (string token in tokens)
        {
            int v = Predict(target, token);
            logprobs.Add((token, 0, [(token, 0)]));
            logprobs.Add(("\t", 0, [("\t", 0)]));
            (string, double)[] top = v == 8 ? [("8", Math.Log(0.75)), ("6", Math.Log(0.25)), ("unknown", Math.Log(1e-4))] : [("0", Math.Log(0.9)), ("1", Math.Log(0.1))];
            logprobs.Add((v.ToString(), top[0].Item2, top));
            logprobs.Add(("\n", 0, [("\n", 0)]));
        }
        logprobs.Add(("<end>", 0, [("<end>", 0)]));
        return new FakeLlmReply.Completion(string.Concat(logprobs.Select(l => l.Item1)), logprobs);
    }

    public static FakeLlmReply SimulateJson(string userText)
    {
        var (target, tokens) = Question(userText);
        var entries = new JsonArray(tokens.Select(t => (JsonNode)new JsonObject { ["token"] = t, ["activation"] = Predict(target, t) }).ToArray());
        return new FakeLlmReply.Completion(new JsonObject { ["activations"] = entries }.ToJsonString());
    }

    /// <summary>The "token\tvalue" lines of a prompt text (value may be "unknown").</summary>
    public static IEnumerable<(string Token, string Value)> ValueLines(string text) =>
        text.Split('\n').Where(l => l.Contains('\t')).Select(l => (l[..l.LastIndexOf('\t')], l[(l.LastIndexOf('\t') + 1)..]));

    [GeneratedRegex("behavior: the main thing this neuron does is find the word \"([^\"]*)\"\\.\\nActivations:\\n<start>\\n[^<]*unknown")]
    private static partial Regex ExplanationTarget();

    private static readonly string[] Vocabulary = [" the", " cat", " sat", " on", " mat", "\n", " dog", " ran"];

    /// <summary>The word a test neuron fires on.</summary>
    public static string TargetOf(int layer, int neuron) => Vocabulary[1 + (layer * 3 + neuron) % 7];

    /// <summary>
    /// A test neuron: 8 top records in which its target word fires (4 + 0.1·r) and 6 random ones where it
    /// fires weaker (2.0, every other record); other tokens sit near zero, some slightly negative.
    /// </summary>
    public static NeuronRecord Record(int layer, int neuron)
    {
        string target = TargetOf(layer, neuron);
        ActivationRecord Make(int r, int salt, bool fires, double peak)
        {
            var tokens = Enumerable.Range(0, 6).Select(i => Vocabulary[(r * 5 + i * 3 + neuron + salt) % Vocabulary.Length]).ToArray();
            for (int i = 0; i < tokens.Length; i++) if (tokens[i] == target) tokens[i] = " the";
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
    public static string WriteRecords(string directory, params (int Layer, int Neuron)[] neurons)
    {
        foreach (var (layer, neuron) in neurons)
            NeuronRecordFile.Write(NeuronRecordFile.PathFor(directory, layer, neuron), Record(layer, neuron));
        return directory;
    }
}
