using NeuronEngine.OpenAi;
using NeuronEngine.Text;

namespace NeuronEngine.Records;

/// <summary>
/// The activation-based token lists of `engine records --token-lookup K`: OpenAI's TokenLookupTableSummaryOfNeuron
/// (their related-tokens/activation-based/{layer}/{neuron}.json) in OUT/token-lookup/{layer}/{neuron}.json, next to
/// the records, in either records layout; and the collector's state in a checkpoint.
/// </summary>
public static class TokenLookupFiles
{
    /// <summary>OpenAI's per-neuron file (no trailing newline, like their other related-tokens files).</summary>
    public static readonly NeuronJsonFile<TokenLookupTableSummaryOfNeuron> SummaryJson =
        new(OpenAiJson.TypeInfo<TokenLookupTableSummaryOfNeuron>(), ".json", "TokenLookupTableSummaryOfNeuron JSON") { Missing = "token-lookup file not found" };

    /// <summary>The collector's state inside a records checkpoint folder: `token_ids` I32 [U], `counts` I64 [U], `sums.{L}` F64 [U, N].</summary>
    public const string StateFileName = "token-lookup.safetensors";

    /// <summary>The folder under a records directory.</summary>
    public const string FolderName = "token-lookup";

    /// <summary>Default of `--token-lookup-min-count` (docs/records.md: averages over fewer positions are too noisy to rank).</summary>
    public const int DefaultMinCount = 10;

    public static string Folder(string recordsDir) => Path.Combine(recordsDir, FolderName);

    public static string PathFor(string recordsDir, int layer, int neuron) => SummaryJson.PathFor(Folder(recordsDir), layer, neuron);

    /// <summary>One neuron's list, token ids decoded as the records decode them (<see cref="Gpt2Tokenizer.DisplayToken"/>).</summary>
    public static TokenLookupTableSummaryOfNeuron ToSummary(TokenLookupCollector c, int layer, int neuron, int k, long minCount, Gpt2Tokenizer tokenizer)
    {
        var (ids, averages) = c.Top(layer, neuron, k, minCount);
        return new TokenLookupTableSummaryOfNeuron { Tokens = ids.Select(tokenizer.DisplayToken).ToArray(), AverageActivations = averages };
    }

    /// <summary>Writes every neuron's file of every collected layer (atomically, in parallel); <paramref name="filesWritten"/> hears of each.</summary>
    public static void Write(string recordsDir, TokenLookupCollector c, int k, long minCount, IProgress<int>? filesWritten = null)
    {
        var tokenizer = Gpt2Tokenizer.Load();
        // Decode every seen token once up front: the tokenizer's display cache is then only read by the writers.
        foreach (int id in c.SeenTokens) tokenizer.DisplayToken(id);
        int written = 0;
        foreach (int layer in c.Layers.Order())
            NeuronFileLayout.WriteEachNeuron(c.Neurons, n =>
            {
                SummaryJson.Write(PathFor(recordsDir, layer, n), ToSummary(c, layer, n, k, minCount, tokenizer));
                filesWritten?.Report(Interlocked.Increment(ref written));
            });
    }

    /// <summary>A neuron's list, or null when the records directory has none; one line naming the file when it is malformed.</summary>
    public static TokenLookupTableSummaryOfNeuron? TryRead(string recordsDir, int layer, int neuron)
    {
        string path = PathFor(recordsDir, layer, neuron);
        var summary = SummaryJson.TryRead(path);
        if (summary is not null && summary.Tokens.Length != summary.AverageActivations.Length)
            throw new InvalidDataException($"{path}: {summary.Tokens.Length} tokens but {summary.AverageActivations.Length} average activations");
        return summary;
    }
}
