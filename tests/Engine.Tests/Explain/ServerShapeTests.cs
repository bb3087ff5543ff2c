using System.Text;
using System.Text.Json.Nodes;
using NeuronEngine.Tests.Explain.Servers;

namespace NeuronEngine.Tests.Explain;

/// <summary>
/// The replayed server shapes themselves, on a prompt small enough to write out by hand: that the fixtures carry what
/// the servers' source writes (not what the engine's parser would like), so the matrix over them means something.
/// " naïve" is 20 6E 61 C3 AF 76 65.
/// </summary>
public class ServerShapeTests
{
    private static FakeLlmRequest Completion(string prompt, int logprobs) =>
        new(1, new JsonObject { ["model"] = "m", ["prompt"] = prompt, ["echo"] = true, ["max_tokens"] = 0, ["logprobs"] = logprobs }, null);

    private static List<ServerToken> Prompt(TokenizerKind kind, string prompt = " naïve\tunknown") =>
        ServerTokenizer.Tokenize(prompt, kind).Select(b => Encoding.UTF8.GetString(b) == "unknown"
            ? new ServerToken(b, Math.Log(0.01), [("7"u8.ToArray(), Math.Log(0.5)), ("3"u8.ToArray(), Math.Log(0.2)), ("unknown"u8.ToArray(), Math.Log(0.01))])
            : new ServerToken(b, -0.5, [])).ToList();

    private static string[] Strings(JsonNode reply, string field = "tokens") =>
        reply["choices"]![0]!["logprobs"]![field]!.AsArray().Select(t => (string)t!).ToArray();

    [Fact]
    public void VllmEchoesTheBosAndEachByteAsReplacementCharactersWithOffsetsInStringLengths()
    {
        var reply = VllmShapes.Echo(Completion(" naïve\tunknown", 2), Prompt(TokenizerKind.ByteFallback), VllmStrings.Decoded, "<s>");
        Assert.Equal(" naïve\tunknown", (string)reply["choices"]![0]!["text"]!);
        // EchoTokens cuts " naïve" after two characters; the byte-fallback tokenizer cuts "ï" into its two bytes.
        Assert.Equal(["<s>", " n", "a", "\uFFFD", "\uFFFD", "ve", "\t", "unknown"], Strings(reply));
        var logprobs = reply["choices"]![0]!["logprobs"]!;
        Assert.Null(logprobs["token_logprobs"]![0]);
        Assert.Null(logprobs["top_logprobs"]![0]);
        // len() of each string: "<s>" 3, " n" 2, "a" 1, "�" 1, "�" 1, "ve" 2, "\t" 1 — not offsets into the text.
        Assert.Equal([0, 3, 5, 6, 7, 8, 10, 11], logprobs["text_offset"]!.AsArray().Select(o => (int)o!));
        // The prompt token and the top 2 (N + 1 entries at most; "unknown" repeated keeps one key).
        var top = logprobs["top_logprobs"]![7]!.AsObject();
        Assert.Equal(["unknown", "7", "3"], top.Select(p => p.Key));
        Assert.Equal(Math.Log(0.01), (double)top["unknown"]!, 12);
    }

    [Fact]
    public void VllmZeroEightToZeroNineWritesRawByteLevelPieces()
    {
        var reply = VllmShapes.Echo(Completion(" naïve\tunknown", 2), Prompt(TokenizerKind.ByteLevelBpe), VllmStrings.RawByteLevel, "<|begin_of_text|>");
        // " n" → "Ġn"; "ï" (C3 AF) → the characters U+00C3 U+00AF; "\t" → "ĉ".
        Assert.Equal(["<|begin_of_text|>", "Ġn", "a", "Ã¯", "ve", "ĉ", "unknown"], Strings(reply));
        Assert.Equal(["Ġa", "Ċ", "ĉ", "ĠæĹ¥"], new[] { " a", "\n", "\t", " 日" }.Select(s => ServerTokenizer.RawByteLevel(Encoding.UTF8.GetBytes(s))));
    }

    [Fact]
    public void VllmsOtherSpellings()
    {
        byte[][] tokens = [" na"u8.ToArray(), [0xC3], [0xAF], "ve"u8.ToArray()];
        Assert.Equal([" na", "", "ï", "ve"], VllmShapes.Strings(tokens, VllmStrings.Corrected));
        Assert.Equal(["na", "\uFFFD", "\uFFFD", "ve"], VllmShapes.Strings(tokens, VllmStrings.SpaceDropped));
        Assert.Equal(["▁na", "<0xC3>", "<0xAF>", "ve"], VllmShapes.Strings(tokens, VllmStrings.RawSentencePiece));
    }

    [Fact]
    public void VllmChatBytesAreTheStringsUtf8()
    {
        var request = new FakeLlmRequest(1, new JsonObject { ["model"] = "m", ["messages"] = new JsonArray(), ["logprobs"] = true, ["top_logprobs"] = 2 }, null);
        var reply = VllmShapes.Chat(request, "ï", [new ServerToken([0xC3], -0.1, []), new ServerToken([0xAF], -0.1, [])], VllmStrings.Decoded);
        var entry = reply["choices"]![0]!["logprobs"]!["content"]![0]!;
        Assert.Equal("\uFFFD", (string)entry["token"]!);
        Assert.Equal([0xEF, 0xBF, 0xBD], entry["bytes"]!.AsArray().Select(b => (int)b!));
    }

    [Fact]
    public void LlamaCppCutsAPiecesTokenButKeepsItsBytesAndOllamaRebuildsBytesFromTheString()
    {
        var request = new FakeLlmRequest(1, new JsonObject { ["model"] = "m", ["messages"] = new JsonArray(), ["logprobs"] = true, ["top_logprobs"] = 2 }, null);
        ServerToken[] tokens = [new([0xC3], -0.1, []), new([0xAF], -0.1, [])];
        var llama = LlamaCppShapes.Chat(request, "ï", tokens)["choices"]![0]!["logprobs"]!["content"]!.AsArray();
        Assert.Equal(["", "\uFFFD"], llama.Select(t => (string)t!["token"]!));
        Assert.Equal([0xC3], llama[0]!["bytes"]!.AsArray().Select(b => (int)b!));
        Assert.Equal([0xAF], llama[1]!["bytes"]!.AsArray().Select(b => (int)b!));
        Assert.NotNull(llama[0]!["id"]);
        var ollama = OllamaShapes.Chat(request, "ï", tokens)["choices"]![0]!["logprobs"]!["content"]!.AsArray();
        Assert.Null(ollama[0]!["bytes"]); // "" has no bytes (omitempty)
        Assert.Equal([0xEF, 0xBF, 0xBD], ollama[1]!["bytes"]!.AsArray().Select(b => (int)b!));
    }
}
