using System.Text.Json;
using NeuronEngine.Corpus;
using NeuronEngine.Text;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Text;

/// <summary>Each corpus format read into the windows docs/design.md §1/§6 describe.</summary>
public sealed class CorpusReaderTests : IDisposable
{
    private const int NPositions = 1024;
    private const int Vocab = Gpt2Tokenizer.VocabSize;

    private const string Prose =
        "The quick brown fox jumps over the lazy dog. Neurons in GPT-2 respond to many things: " +
        "numbers like 1984, names like Ada Lovelace, café accents and emoji 😀. ";

    private readonly TempDir _dir = new();
    private readonly Gpt2Tokenizer _tokenizer = Gpt2Tokenizer.Load();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Txt_IsTokenisedWholeAndCutIntoConsecutiveWindows()
    {
        string text = string.Concat(Enumerable.Repeat(Prose, 5));
        int[] ids = _tokenizer.Encode(text);
        const int seqLen = 16;
        Assert.NotEqual(0, ids.Length % seqLen); // so the tail really is dropped

        using var windows = CorpusReader.Open(_dir.WriteText("c.txt", text), seqLen, NPositions, Vocab);

        Assert.Equal(seqLen, windows.SeqLen);
        Assert.Equal(ids.Length / seqLen, windows.Count);
        AssertWindowsAre(Cut(ids, seqLen), windows);
    }

    [Theory]
    [InlineData(false, ".txt")]
    [InlineData(true, ".txt")]
    [InlineData(false, ".jsonl")]
    [InlineData(true, ".jsonl")]
    public void InvalidUtf8_IsReadAsReplacementCharactersAndCounted(bool byteOrderMark, string extension)
    {
        // 0xFF is never UTF-8; 0xE2 0x82 starts a 3-byte sequence that '!' breaks off (one U+FFFD for both bytes).
        byte[] text = [.. System.Text.Encoding.UTF8.GetBytes("Bad "), 0xFF, .. System.Text.Encoding.UTF8.GetBytes(" bytes "), 0xE2, 0x82,
            .. System.Text.Encoding.UTF8.GetBytes("! in an otherwise fine sentence about herons, boats and the river.")];
        byte[] content = extension == ".txt" ? text
            : [.. System.Text.Encoding.UTF8.GetBytes("{\"text\": \""), .. text, .. System.Text.Encoding.UTF8.GetBytes("\"}\n")];
        string path = _dir["bad" + extension];
        File.WriteAllBytes(path, byteOrderMark ? [0xEF, 0xBB, 0xBF, .. content] : content);

        using var windows = CorpusReader.Open(path, 4, NPositions, Vocab);

        Assert.Equal(3, windows.InvalidUtf8Bytes);
        string decoded = "Bad \uFFFD bytes \uFFFD! in an otherwise fine sentence about herons, boats and the river.";
        int[] expected = _tokenizer.Encode(decoded); // as Encoding.UTF8 would have read it, without the byte-order mark
        var actual = new int[windows.Count * 4];
        windows.CopyWindows(0, (int)windows.Count, actual);
        Assert.Equal(expected[..actual.Length], actual);

        using var clean = CorpusReader.Open(_dir.WriteText("clean" + extension, extension == ".txt" ? Prose : $"{{\"text\": \"{Prose}\"}}\n"), 4, NPositions, Vocab);
        Assert.Equal(0, clean.InvalidUtf8Bytes);
    }

    [Fact]
    public void Txt_WindowAsLongAsNPositions_IsAllowed()
    {
        using var windows = CorpusReader.Open(_dir.WriteText("c.txt", Prose), 4, nPositions: 4, Vocab);
        Assert.Equal(_tokenizer.Encode(Prose).Length / 4, windows.Count);
    }

    [Fact]
    public void Jsonl_CutsEachDocumentSeparately_SkippingBlankLinesAndShortDocuments()
    {
        const int seqLen = 8;
        string[] documents = [Prose + Prose, "Too short.", Prose];
        string path = _dir.WriteText("c.jsonl",
            JsonLine(documents[0]) + "\n\n   \n" +
            JsonSerializer.Serialize(new { id = 7, text = documents[1], source = "x" }) + "\r\n" +
            JsonLine(documents[2]) + "\n");

        using var windows = CorpusReader.Open(path, seqLen, NPositions, Vocab);

        var expected = documents.SelectMany(d => Cut(_tokenizer.Encode(d), seqLen)).ToList();
        int[] all = documents.SelectMany(_tokenizer.Encode).ToArray();
        Assert.True(expected.Count < all.Length / seqLen, "per-document cutting should drop each document's tail");
        Assert.Equal(expected.Count, windows.Count);
        AssertWindowsAre(expected, windows);
    }

    [Fact]
    public void Bin_IsReadAsConsecutiveWindowsWithTailDropped()
    {
        ushort[] tokens = Enumerable.Range(0, 1000).Select(i => (ushort)(i * 37 % Vocab)).ToArray();
        tokens[^41] = Gpt2Tokenizer.EndOfText; // the largest valid id, inside the last kept window
        string path = _dir["c.bin"];
        LlmcTokenFile.Write(path, tokens);

        using var windows = CorpusReader.Open(path, 64, NPositions, Vocab);

        Assert.Equal(1000 / 64, windows.Count);
        AssertWindowsAre(Cut(tokens.Select(t => (int)t).ToArray(), 64), windows);
    }

    [Fact]
    public void Bin_CopyWindows_FillsARowMajorBatchFromAnyWindow()
    {
        ushort[] tokens = Enumerable.Range(0, 100).Select(i => (ushort)i).ToArray();
        string path = _dir["c.bin"];
        LlmcTokenFile.Write(path, tokens);
        using var windows = CorpusReader.Open(path, 10, NPositions, Vocab);

        var batch = new int[3 * 10];
        windows.CopyWindows(4, 3, batch);

        Assert.Equal(Enumerable.Range(40, 30), batch);
        Assert.Throws<ArgumentOutOfRangeException>(() => windows.CopyWindows(8, 3, batch));
    }

    [Fact]
    public void Bin_AfterDispose_ReadingThrows()
    {
        string path = _dir["c.bin"];
        LlmcTokenFile.Write(path, new ushort[20]);
        var windows = CorpusReader.Open(path, 10, NPositions, Vocab);
        windows.Dispose();
        Assert.Throws<ObjectDisposedException>(() => windows.Window(0));
    }

    [Fact]
    public void MaxWindows_LimitsTheCountOfEveryFormat()
    {
        string text = string.Concat(Enumerable.Repeat(Prose, 5));
        int[] ids = _tokenizer.Encode(text);
        string bin = _dir["c.bin"];
        LlmcTokenFile.Write(bin, ids.Select(i => (ushort)i).ToArray());
        string[] paths = [_dir.WriteText("c.txt", text), _dir.WriteText("c.jsonl", JsonLine(text)), bin];

        foreach (string path in paths)
        {
            using var windows = CorpusReader.Open(path, 8, NPositions, Vocab, maxWindows: 3);
            Assert.Equal(3, windows.Count);
            AssertWindowsAre(Cut(ids, 8).Take(3).ToList(), windows);
        }
    }

    [Fact]
    public void MaxWindows_Jsonl_StopsReadingOnceEnoughWindowsAreFound()
    {
        // The broken second line is never reached: a limited run over a huge corpus reads only what it needs.
        string path = _dir.WriteText("c.jsonl", JsonLine(Prose) + "\n{broken\n");
        using var windows = CorpusReader.Open(path, 8, NPositions, Vocab, maxWindows: 2);
        Assert.Equal(2, windows.Count);
    }

    [Fact]
    public void LlmcTokenFile_Write_ProducesTheLlmcHeaderAndLittleEndianTokens()
    {
        string path = _dir["c.bin"];
        LlmcTokenFile.Write(path, [1, 258, 50256]);
        byte[] bytes = File.ReadAllBytes(path);

        Assert.Equal(1024 + 3 * 2, bytes.Length);
        Assert.Equal(20240520, BitConverter.ToInt32(bytes, 0));
        Assert.Equal(1, BitConverter.ToInt32(bytes, 4));
        Assert.Equal(3, BitConverter.ToInt32(bytes, 8));
        Assert.All(bytes[12..1024], b => Assert.Equal(0, b));
        Assert.Equal(new byte[] { 1, 0, 2, 1, 0x50, 0xC4 }, bytes[1024..]);
    }

    private static string JsonLine(string text) => JsonSerializer.Serialize(new { text });

    private static List<int[]> Cut(int[] ids, int seqLen) =>
        Enumerable.Range(0, ids.Length / seqLen).Select(w => ids[(w * seqLen)..((w + 1) * seqLen)]).ToList();

    private static void AssertWindowsAre(IReadOnlyList<int[]> expected, TokenWindows windows)
    {
        Assert.Equal(expected.Count, windows.Count);
        for (int w = 0; w < expected.Count; w++)
        {
            Assert.Equal(expected[w], windows.Window(w));
        }
        var all = new int[expected.Count * windows.SeqLen];
        windows.CopyWindows(0, expected.Count, all);
        Assert.Equal(expected.SelectMany(w => w), all);
    }
}
