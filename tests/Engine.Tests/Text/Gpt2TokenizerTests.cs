using NeuronEngine.Text;
using Xunit;

namespace NeuronEngine.Tests.Text;

public sealed class Gpt2TokenizerTests
{
    private readonly Gpt2Tokenizer _tokenizer = Gpt2Tokenizer.Load();

    [Fact]
    public void Encode_HelloWorld_GivesGpt2Ids() => Assert.Equal([15496, 995], _tokenizer.Encode("Hello world"));

    [Fact]
    public void Encode_SpaceThe_IsOneToken() => Assert.Equal([262], _tokenizer.Encode(" the"));

    [Fact]
    public void Encode_AddsNoSpecialTokens()
    {
        Assert.Empty(_tokenizer.Encode(""));
        Assert.DoesNotContain(Gpt2Tokenizer.EndOfText, _tokenizer.Encode("Hello world"));
    }

    [Fact]
    public void Encode_Emoji_UsesByteTokensAsHuggingFaceDoes() =>
        // 😀 is four UTF-8 bytes, split by GPT-2's merges into two tokens.
        Assert.Equal([47249, 222], _tokenizer.Encode("😀"));

    [Theory]
    [InlineData("héllo 😀 世界")]
    [InlineData("naïve café — ∑ ñ\n\n  tabs\tand  spaces ")]
    public void Decode_OfEncode_RoundTripsNonAsciiText(string text) =>
        Assert.Equal(text, _tokenizer.Decode(_tokenizer.Encode(text)));

    [Fact]
    public void Decode_Empty_IsEmptyString() => Assert.Equal("", _tokenizer.Decode([]));

    [Fact]
    public void Decode_IdOutsideVocabulary_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([15496, Gpt2Tokenizer.VocabSize]));

    [Fact]
    public void DisplayToken_World_KeepsLeadingSpace() => Assert.Equal(" world", _tokenizer.DisplayToken(995));

    [Fact]
    public void DisplayToken_PartialUtf8Byte_IsReplacementCharacter()
    {
        // Token 94 is the lone byte 0xA1, a UTF-8 continuation byte: Python's errors="replace" gives U+FFFD.
        Assert.Equal("\uFFFD", _tokenizer.DisplayToken(94));
        // 47249 is the first half of 😀 (bytes F0 9F 98): one replacement for the truncated sequence.
        Assert.Equal("\uFFFD", _tokenizer.DisplayToken(47249));
    }

    [Fact]
    public void DisplayToken_EndOfText_IsItsMarker() =>
        Assert.Equal("<|endoftext|>", _tokenizer.DisplayToken(Gpt2Tokenizer.EndOfText));

    [Fact]
    public void DisplayToken_IsCachedPerId() =>
        Assert.Same(_tokenizer.DisplayToken(262), _tokenizer.DisplayToken(262));

    [Fact]
    public void DisplayToken_IdOutsideVocabulary_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.DisplayToken(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.DisplayToken(Gpt2Tokenizer.VocabSize));
    }
}
