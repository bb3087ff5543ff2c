using System.Text;
using NeuronEngine.Explain;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// Server tokens laid onto the text by bytes, whatever the server made of their strings. Expected spans are counted
/// by hand from the UTF-8 of the text: " naïve" is 20 6E 61 C3 AF 76 65, " 日" is 20 E6 97 A5.
/// </summary>
public class TokenAlignmentTests
{
    private static LlmTokenLogprob T(string token, params byte[] bytes) => new(token, 0, []) { Bytes = bytes.Length == 0 ? null : bytes };

    private static (int, int)[] Spans(string text, params LlmTokenLogprob[] tokens)
    {
        var aligned = TokenAlignment.Align(text, tokens, out string? failure);
        Assert.True(aligned is not null, failure);
        return aligned.Start.Zip(aligned.End).ToArray();
    }

    [Fact]
    public void DecodedFragmentsTakeTheBytesOfTheirCharacter() =>
        // vLLM decodes each byte token alone: "ï" (C3 AF) arrives as two U+FFFD.
        Assert.Equal([(0, 3), (3, 4), (4, 5), (5, 7)], Spans(" naïve", T(" na"), T("\uFFFD"), T("\uFFFD"), T("ve")));

    [Fact]
    public void ATwoByteFragmentAndItsRestLineUpWithTheNextLiteral()
    {
        // Byte-level BPE: "日" (E6 97 A5) cut after two bytes, both halves "�". Which half holds the middle byte the
        // strings cannot say (and no record token ends inside a character); the two together hold the character.
        var spans = Spans(" 日\t", T(" "), T("\uFFFD"), T("\uFFFD"), T("\t"));
        Assert.Equal((0, 1), spans[0]);
        Assert.Equal((1, 4), (spans[1].Item1, spans[2].Item2));
        Assert.Equal(spans[1].Item2, spans[2].Item1);
        Assert.True(spans[1].Item2 > 1 && spans[2].Item2 > spans[2].Item1);
        Assert.Equal((4, 5), spans[3]);
    }

    [Fact]
    public void AnEmptyPieceThenTheWholeCharacter() =>
        // Newer vLLM: the incomplete piece "" and the completing one "ï"; the pair covers C3 AF.
        Assert.Equal([(0, 3), (3, 3), (3, 5), (5, 7)], Spans(" naïve", T(" na"), T(""), T("ï"), T("ve")));

    [Fact]
    public void LlamaCppsCutTokensAreReadFromTheirBytes() =>
        // llama.cpp: the lead byte's token cut to "", the continuation byte's written "�", bytes exact.
        Assert.Equal([(0, 3), (3, 4), (4, 5), (5, 7)], Spans(" naïve", T(" na"), T("", 0xC3), T("\uFFFD", 0xAF), T("ve")));

    [Fact]
    public void RawByteLevelStringsAreDecoded() =>
        // vLLM 0.8–0.9: "Ġ" is 0x20, "Ã¯" the bytes C3 AF written as the characters U+00C3 U+00AF, "ĉ" 0x09, "Ċ" 0x0A.
        Assert.Equal([(0, 3), (3, 5), (5, 7), (7, 8), (8, 9)], Spans(" naïve\t\n", T("Ġna"), T("Ã¯"), T("ve"), T("ĉ"), T("Ċ")));

    [Fact]
    public void RawSentencePiecesAreDecoded() =>
        Assert.Equal([(0, 3), (3, 4), (4, 5), (5, 7), (7, 8)], Spans(" naïve\n", T("▁na"), T("<0xC3>"), T("<0xAF>"), T("ve"), T("<0x0A>")));

    [Fact]
    public void ASpaceSentencePieceDecodingDroppedIsTakenBack() =>
        Assert.Equal([(0, 3), (3, 4), (4, 5), (5, 7), (7, 11)], Spans(" naïve the", T("na"), T("\uFFFD"), T("\uFFFD"), T("ve"), T("the")));

    [Fact]
    public void ABosStringTheTextDoesNotHoldCoversNothing() =>
        Assert.Equal([(0, 0), (0, 2), (2, 3)], Spans(" a\n", T("<s>"), T(" a"), T("\n")));

    [Fact]
    public void OpenAisByteTokensAreTheirBytes() =>
        Assert.Equal([(0, 1), (1, 2), (2, 3)], Spans("é!", T("bytes:\\xc3"), T("bytes:\\xa9"), T("!")));

    [Fact]
    public void ARealReplacementCharacterInTheTextIsOneOfItsOwn() =>
        // A record token shown as "�" (part of a character GPT-2 split) is U+FFFD in the prompt: EF BF BD.
        Assert.Equal([(0, 1), (1, 4), (4, 5)], Spans("a\uFFFD\t", T("a"), T("\uFFFD"), T("\t")));

    [Fact]
    public void TokensThatDoNotSpellTheTextNameWhereTheyStop()
    {
        Assert.Null(TokenAlignment.Align(" cat\tunknown", [T(" cat"), T("\t"), T("unkown")], out string? failure));
        Assert.Equal("the server's tokens do not spell the text they came with: token 2 'unkown' does not continue it at byte 5 (' cat\\tunknown')", failure);
        Assert.Null(TokenAlignment.Align(" cat\t", [T(" cat")], out failure));
        Assert.StartsWith("the server's tokens end at byte 4 of 5", failure);
    }

    [Fact]
    public void RawByteLevelStringsThatStillDoNotSpellTheTextNameTheVllmVersions()
    {
        Assert.Null(TokenAlignment.Align(" cat\t", [T("Ġdog"), T("ĉ")], out string? failure));
        Assert.Contains("raw byte-level pieces", failure);
        Assert.Contains("vLLM 0.8.0-0.9.0", failure);
    }

    [Fact]
    public void AlternativesAreReadInTheReplysSpelling()
    {
        var aligned = TokenAlignment.Align(" a\t8", [T("Ġa"), T("ĉ8")], out _)!;
        Assert.Equal(TokenSpelling.ByteLevel, aligned.Spelling);
        Assert.Equal("\t6", aligned.AlternativeText(new LlmTopLogprob("ĉ6", 0)));
        Assert.Equal("\t7", aligned.AlternativeText(new LlmTopLogprob("\uFFFD", 0) { Bytes = Encoding.UTF8.GetBytes("\t7") }));
    }

    [Fact]
    public void ALongEchoWithFragmentsEverywhereAligns()
    {
        // 30,000 tokens (longer than any simulator prompt): " w" then "é" as two byte pieces, 10,000 times.
        var tokens = Enumerable.Range(0, 30_000).Select(i => T(i % 3 == 0 ? " w" : "\uFFFD")).ToArray();
        var spans = Spans(string.Concat(Enumerable.Repeat(" w\u00e9", 10_000)), tokens);
        Assert.Equal((39_996, 39_998), spans[^3]);
        Assert.Equal((39_999, 40_000), spans[^1]);
    }
}
