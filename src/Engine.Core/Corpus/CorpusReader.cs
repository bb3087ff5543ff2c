using System.Text;
using System.Text.Json;
using NeuronEngine.Text;

namespace NeuronEngine.Corpus;

/// <summary>
/// Opens a corpus as T-token windows (docs/design.md §1, §6), choosing the format by extension:
/// .txt (tokenised whole, then cut), .jsonl (a "text" field per line, each document cut separately)
/// or .bin (llm.c uint16 token file, memory-mapped). Tails shorter than a window are dropped.
/// Every problem with the input is a <see cref="CorpusException"/> naming the file.
/// </summary>
public static class CorpusReader
{
    public static IReadOnlyList<string> SupportedExtensions { get; } = [".txt", ".jsonl", ".bin"];

    /// <param name="path">The corpus file.</param>
    /// <param name="seqLen">Window length T; 1..<paramref name="nPositions"/>.</param>
    /// <param name="nPositions">The model's n_positions (longest sequence it has position embeddings for).</param>
    /// <param name="vocabSize">The model's vocab_size: every token id must be below it.</param>
    /// <param name="tokenizer">For .txt and .jsonl; the shared GPT-2 tokenizer when null.</param>
    /// <param name="maxWindows">Keep at most this many windows (the first ones); at least 1.</param>
    public static TokenWindows Open(
        string path, int seqLen, int nPositions, int vocabSize,
        Gpt2Tokenizer? tokenizer = null, long? maxWindows = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(nPositions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);

        if (seqLen < 1)
        {
            throw new CorpusException($"corpus {path}: window length {seqLen} must be at least 1");
        }
        if (seqLen > nPositions)
        {
            throw new CorpusException(
                $"corpus {path}: window length {seqLen} exceeds the model's n_positions {nPositions}");
        }
        if (maxWindows < 1)
        {
            throw new CorpusException($"corpus {path}: maximum window count {maxWindows} must be at least 1");
        }
        if (Directory.Exists(path))
        {
            throw new CorpusException($"corpus {path} is a directory, not a {DescribeSupported()} file");
        }
        if (!File.Exists(path))
        {
            throw new CorpusException($"corpus {path} not found");
        }

        long windowLimit = maxWindows ?? long.MaxValue;
        string extension = Path.GetExtension(path).ToLowerInvariant();
        try
        {
            return extension switch
            {
                ".txt" => OpenText(path, seqLen, vocabSize, tokenizer ?? Gpt2Tokenizer.Load(), windowLimit),
                ".jsonl" => OpenJsonLines(path, seqLen, vocabSize, tokenizer ?? Gpt2Tokenizer.Load(), windowLimit),
                ".bin" => OpenTokenFile(path, seqLen, vocabSize, windowLimit),
                "" => throw new CorpusException(
                    $"corpus {path} has no file extension; supported: {DescribeSupported()}"),
                _ => throw new CorpusException(
                    $"corpus {path} has unsupported extension '{extension}'; supported: {DescribeSupported()}"),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CorpusException($"corpus {path} could not be read: {OneLine(e.Message)}", e);
        }
    }

    private static TokenWindows OpenText(string path, int seqLen, int vocabSize, Gpt2Tokenizer tokenizer, long windowLimit)
    {
        // Tokenised as one piece, so window boundaries never change how the text splits into tokens.
        var utf8 = new CountingUtf8();
        int[] ids = tokenizer.Encode(File.ReadAllText(path, utf8.Encoding));
        long windows = Math.Min(ids.Length / seqLen, windowLimit);
        if (windows == 0)
        {
            throw TooShortForOneWindow(path, ids.Length, seqLen);
        }
        var kept = ids.AsSpan(0, checked((int)(windows * seqLen)));
        CheckVocabulary(path, kept, vocabSize, position => $"at position {position}");
        int[] tokens = kept.Length == ids.Length ? ids : kept.ToArray();
        return new TokenWindows(path, seqLen, windows, new InMemoryTokens(tokens)) { InvalidUtf8Bytes = utf8.Replaced };
    }

    private static TokenWindows OpenJsonLines(string path, int seqLen, int vocabSize, Gpt2Tokenizer tokenizer, long windowLimit)
    {
        // The kept windows, concatenated; grown by doubling and handed over without a final copy.
        int[] tokens = [];
        int used = 0;
        long windows = 0, documents = 0, lineNumber = 0;
        int longestDocument = 0;

        var utf8 = new CountingUtf8();
        using var reader = new StreamReader(path, utf8.Encoding, detectEncodingFromByteOrderMarks: true);
        // Stop reading as soon as enough windows are in hand: --max-windows on a huge corpus should be quick.
        while (windows < windowLimit && reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            int[] ids = tokenizer.Encode(ReadTextField(path, lineNumber, line));
            documents++;
            longestDocument = Math.Max(longestDocument, ids.Length);

            long documentWindows = Math.Min(ids.Length / seqLen, windowLimit - windows);
            if (documentWindows == 0)
            {
                continue;
            }
            var kept = ids.AsSpan(0, (int)(documentWindows * seqLen));
            long lineForMessage = lineNumber;
            CheckVocabulary(path, kept, vocabSize,
                position => $"at position {position} of line {lineForMessage}");

            if ((long)used + kept.Length > Array.MaxLength)
            {
                throw new CorpusException(
                    $"corpus {path} has more than {Array.MaxLength} tokens in windows, too many to hold as .jsonl; " +
                    "convert it to an llm.c .bin file (LlmcTokenFile.Write)");
            }
            if (used + kept.Length > tokens.Length)
            {
                long grown = Math.Max((long)tokens.Length * 2, used + kept.Length);
                Array.Resize(ref tokens, (int)Math.Min(Math.Max(grown, 4096), Array.MaxLength));
            }
            kept.CopyTo(tokens.AsSpan(used));
            used += kept.Length;
            windows += documentWindows;
        }

        if (windows == 0)
        {
            throw documents == 0
                ? TooShortForOneWindow(path, 0, seqLen)
                : new CorpusException(
                    $"corpus {path}: every document has fewer tokens than one window of {seqLen} " +
                    $"(the longest of {documents} has {longestDocument})");
        }
        return new TokenWindows(path, seqLen, windows, new InMemoryTokens(tokens)) { InvalidUtf8Bytes = utf8.Replaced };
    }

    /// <summary>UTF-8 that reads invalid bytes as U+FFFD, as Encoding.UTF8 does, and counts them.</summary>
    private sealed class CountingUtf8
    {
        private long _replaced;
        public long Replaced => Interlocked.Read(ref _replaced);
        public Encoding Encoding { get; }

        // With the UTF-8 preamble, so a byte-order mark is skipped without StreamReader swapping in Encoding.UTF8.
        public CountingUtf8() => Encoding = Encoding.GetEncoding(Encoding.UTF8.CodePage, EncoderFallback.ReplacementFallback, new Fallback(this));

        private sealed class Fallback(CountingUtf8 owner) : DecoderFallback
        {
            public override int MaxCharCount => 1;
            public override DecoderFallbackBuffer CreateFallbackBuffer() => new Buffer(owner);
        }

        private sealed class Buffer(CountingUtf8 owner) : DecoderFallbackBuffer
        {
            private bool _pending;
            public override int Remaining => _pending ? 1 : 0;

            public override bool Fallback(byte[] bytesUnknown, int index)
            {
                Interlocked.Add(ref owner._replaced, bytesUnknown.Length);
                _pending = true;
                return true;
            }

            public override char GetNextChar()
            {
                if (!_pending) return '\0';
                _pending = false;
                return '\uFFFD';
            }

            public override bool MovePrevious() => false;
            public override void Reset() => _pending = false;
        }
    }

    /// <summary>The string "text" field of one JSONL line, or a CorpusException naming the line (and the file as
    /// "<paramref name="what"/> PATH": a corpus, or probe's --texts).</summary>
    internal static string ReadTextField(string path, long lineNumber, string line, string what = "corpus")
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new CorpusException(
                $"{what} {path} line {lineNumber} is not valid JSON (at byte {e.BytePositionInLine ?? 0}): " +
                WithoutJsonPosition(e.Message), e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new CorpusException(
                    $"{what} {path} line {lineNumber} is {Describe(root.ValueKind)}, not an object with a \"text\" field");
            }
            if (!root.TryGetProperty("text", out var text))
            {
                throw new CorpusException($"{what} {path} line {lineNumber} has no \"text\" field");
            }
            if (text.ValueKind != JsonValueKind.String)
            {
                throw new CorpusException(
                    $"{what} {path} line {lineNumber}: \"text\" is {Describe(text.ValueKind)}, not a string");
            }
            return text.GetString()!;
        }
    }

    private static TokenWindows OpenTokenFile(string path, int seqLen, int vocabSize, long windowLimit)
    {
        var file = MappedTokenFile.Open(path, vocabSize);
        try
        {
            long windows = Math.Min(file.TokenCount / seqLen, windowLimit);
            if (windows == 0)
            {
                throw TooShortForOneWindow(path, file.TokenCount, seqLen);
            }
            return new TokenWindows(path, seqLen, windows, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    // The tokenizer only makes ids below 50257, so this matters only for a model with a smaller
    // vocabulary (e.g. a cut-down test model), whose embedding lookup would otherwise read past its table.
    private static void CheckVocabulary(string path, ReadOnlySpan<int> ids, int vocabSize, Func<int, string> location)
    {
        if (vocabSize >= Gpt2Tokenizer.VocabSize)
        {
            return;
        }
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] >= vocabSize)
            {
                throw TokenOutsideVocabulary(path, location(i), ids[i], vocabSize);
            }
        }
    }

    internal static CorpusException TokenOutsideVocabulary(string path, long position, int id, int vocabSize) =>
        TokenOutsideVocabulary(path, $"at position {position}", id, vocabSize);

    private static CorpusException TokenOutsideVocabulary(string path, string location, int id, int vocabSize) =>
        new($"corpus {path}: token {location} has id {id}, outside the model's vocabulary of {vocabSize} ids");

    private static CorpusException TooShortForOneWindow(string path, long tokens, int seqLen) =>
        new($"corpus {path} has {tokens} tokens, fewer than one window of {seqLen}");

    private static string DescribeSupported() => ".txt, .jsonl or .bin (llm.c tokens)";

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Number => "a number",
        JsonValueKind.String => "a string",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        _ => "undefined",
    };

    // System.Text.Json appends " LineNumber: 0 | BytePositionInLine: n." for the single-line document
    // it was given; the line number it means is ours, and the byte position is already in the message.
    private static string WithoutJsonPosition(string message)
    {
        int at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return OneLine(at < 0 ? message : message[..at]);
    }

    private static string OneLine(string message) =>
        message.ReplaceLineEndings(" ").Trim();
}
