using System.Buffers.Binary;
using NeuronEngine.Corpus;
using NeuronEngine.Text;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Text;

/// <summary>Every bad corpus input is one CorpusException line naming the file and the problem.</summary>
public sealed class CorpusErrorTests : IDisposable
{
    private const int NPositions = 1024;
    private const int Vocab = Gpt2Tokenizer.VocabSize;
    private const string Prose = "The quick brown fox jumps over the lazy dog, again and again and again.";

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void MissingFile() =>
        AssertFails(_dir["absent.txt"], "not found");

    [Fact]
    public void Directory_InsteadOfFile() =>
        AssertFails(_dir.Path, "is a directory");

    [Fact]
    public void UnsupportedExtension_NamesTheSupportedOnes() =>
        AssertFailsWithAll(_dir.WriteText("corpus.csv", Prose), "unsupported extension '.csv'", ".txt", ".jsonl", ".bin");

    [Fact]
    public void SeqLenAboveNPositions() =>
        AssertFails(_dir.WriteText("c.txt", Prose), "window length 2000 exceeds the model's n_positions 1024", seqLen: 2000);

    [Fact]
    public void SeqLenBelowOne() =>
        AssertFails(_dir.WriteText("c.txt", Prose), "window length 0 must be at least 1", seqLen: 0);

    [Fact]
    public void MaxWindowsBelowOne() =>
        AssertFails(_dir.WriteText("c.txt", Prose), "maximum window count 0 must be at least 1", maxWindows: 0);

    [Fact]
    public void Txt_Empty() =>
        AssertFails(_dir.WriteText("c.txt", ""), "has 0 tokens, fewer than one window of 8");

    [Fact]
    public void Txt_ShorterThanOneWindow() =>
        AssertFails(_dir.WriteText("c.txt", "Hello world"), "has 2 tokens, fewer than one window of 8");

    [Fact]
    public void Txt_TokenOutsideASmallModelsVocabulary() =>
        // "Hello" is id 15496: fine for GPT-2, not for a model with 1000 ids.
        AssertFails(_dir.WriteText("c.txt", "Hello world"), "token at position 0 has id 15496", seqLen: 2, vocabSize: 1000);

    [Fact]
    public void Jsonl_InvalidJson_NamesTheLine() =>
        AssertFails(_dir.WriteText("c.jsonl", "{\"text\": \"fine\"}\n\n{\"text\": oops}\n"), "line 3 is not valid JSON");

    [Fact]
    public void Jsonl_MissingText_NamesTheLine() =>
        AssertFails(_dir.WriteText("c.jsonl", "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n"), "line 2 has no \"text\" field");

    [Fact]
    public void Jsonl_NonStringText_NamesTheLine() =>
        AssertFails(_dir.WriteText("c.jsonl", "{\"text\": 42}\n"), "line 1: \"text\" is a number, not a string");

    [Fact]
    public void Jsonl_LineNotAnObject_NamesTheLine() =>
        AssertFails(_dir.WriteText("c.jsonl", "[\"text\"]\n"), "line 1 is an array, not an object");

    [Fact]
    public void Jsonl_OnlyBlankLines() =>
        AssertFails(_dir.WriteText("c.jsonl", "\n  \n"), "has 0 tokens, fewer than one window of 8");

    [Fact]
    public void Jsonl_EveryDocumentShorterThanOneWindow() =>
        // 5 + 4 tokens would fill one window of 8 if concatenated, but documents are cut separately.
        AssertFailsWithAll(_dir.WriteText("c.jsonl", "{\"text\": \"one two three four five\"}\n{\"text\": \"six seven eight nine\"}\n"),
            "every document has fewer tokens than one window of 8", "the longest of 2 has 5");

    [Fact]
    public void Bin_ShorterThanHeader() =>
        AssertFails(WriteBytes("c.bin", new byte[100]), "is 100 bytes, shorter than the 1024-byte llm.c header");

    [Fact]
    public void Bin_WrongMagic_SaysWhatWasFound() =>
        AssertFails(WriteBin("c.bin", magic: 12345, version: 1, count: 16, new ushort[16]),
            "magic is 12345, expected 20240520");

    [Fact]
    public void Bin_WrongVersion() =>
        AssertFailsWithAll(WriteBin("c.bin", magic: 20240520, version: 2, count: 16, new ushort[16]),
            "llm.c version 2", "only version 1");

    [Fact]
    public void Bin_TokenCountNotMatchingFileSize() =>
        AssertFailsWithAll(WriteBin("c.bin", magic: 20240520, version: 1, count: 20, new ushort[16]),
            "header says 20 tokens", "the file is 1056 bytes");

    [Fact]
    public void Bin_NoTokens() =>
        AssertFails(WriteBin("c.bin", magic: 20240520, version: 1, count: 0, []), "has 0 tokens, fewer than one window of 8");

    [Fact]
    public void Bin_FewerTokensThanOneWindow() =>
        AssertFails(WriteBin("c.bin", magic: 20240520, version: 1, count: 7, new ushort[7]), "has 7 tokens, fewer than one window of 8");

    [Fact]
    public void Bin_TokenOutsideVocabulary_NamesItsPosition()
    {
        var tokens = new ushort[32];
        tokens[21] = 60000;
        string path = _dir["c.bin"];
        LlmcTokenFile.Write(path, tokens);

        // The id check happens as windows are read, so read them all.
        var error = Assert.Throws<CorpusException>(() =>
        {
            using var windows = CorpusReader.Open(path, 8, NPositions, Vocab);
            windows.CopyWindows(0, (int)windows.Count, new int[windows.Count * windows.SeqLen]);
        });
        AssertMessage(error, path, "token at position 21 has id 60000", "vocabulary of 50257");
    }

    private static void AssertFails(
        string path, string problem, int seqLen = 8, int vocabSize = Vocab, long? maxWindows = null) =>
        AssertFails(path, [problem], seqLen, vocabSize, maxWindows);

    private static void AssertFailsWithAll(string path, params string[] problem) =>
        AssertFails(path, problem, 8, Vocab, null);

    private static void AssertFails(string path, string[] problem, int seqLen, int vocabSize, long? maxWindows)
    {
        var error = Assert.Throws<CorpusException>(
            () => CorpusReader.Open(path, seqLen, NPositions, vocabSize, maxWindows: maxWindows).Dispose());
        AssertMessage(error, path, problem);
    }

    private static void AssertMessage(CorpusException error, string path, params string[] problem)
    {
        Assert.Contains(Path.GetFileName(path.TrimEnd(Path.DirectorySeparatorChar)), error.Message);
        foreach (string part in problem)
        {
            Assert.Contains(part, error.Message);
        }
        Assert.DoesNotContain('\n', error.Message);
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = _dir[name];
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>An llm.c file with a header of our choosing, for headers LlmcTokenFile.Write would never write.</summary>
    private string WriteBin(string name, int magic, int version, int count, ushort[] tokens)
    {
        var bytes = new byte[LlmcTokenFile.HeaderBytes + 2 * tokens.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(0), magic);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), version);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), count);
        for (int i = 0; i < tokens.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(LlmcTokenFile.HeaderBytes + 2 * i), tokens[i]);
        }
        return WriteBytes(name, bytes);
    }
}
