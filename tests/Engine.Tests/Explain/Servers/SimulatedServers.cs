using System.Text.Json.Nodes;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>A server as the engine meets it: how it answers a chat request and a /v1/completions request.</summary>
public sealed record SimulatedServer(string Name, Func<FakeLlmRequest, FakeLlmReply> Reply)
{
    public override string ToString() => Name;
}

/// <summary>
/// The servers of issue 23's table, each answering the fake model's replies (<see cref="FakeNeuronModel"/>) in its
/// own shape (<see cref="VllmShapes"/>, <see cref="LlamaCppShapes"/>, <see cref="OllamaShapes"/>, <see cref="OpenAiShapes"/>)
/// with a tokenizer that cuts accented and CJK characters into byte pieces (<see cref="ServerTokenizer"/>).
/// </summary>
public static class SimulatedServers
{
    /// <summary>Words with accents and CJK characters, which byte-fallback and byte-level tokenizers cut into pieces.</summary>
    public static readonly string[] Vocabulary = [" the", " naïve", " café", "\n", " 日本", "語", " über", " mat"];

    /// <summary>Current vLLM with a Llama/Mistral model: "&lt;s&gt;" first, every byte piece "�" (the failing case).</summary>
    public static SimulatedServer Vllm => VllmWith(VllmStrings.Decoded, TokenizerKind.ByteFallback, "<s>", "vLLM (decoded strings, byte fallback)");

    /// <summary>Current vLLM with a Qwen-style byte-level BPE: 2-byte pieces of CJK characters read "�", no BOS.</summary>
    public static SimulatedServer VllmByteLevelBpe => VllmWith(VllmStrings.Decoded, TokenizerKind.ByteLevelBpe, null, "vLLM (decoded strings, byte-level BPE)");

    /// <summary>Newer vLLM: incomplete pieces "", the completing piece the whole character.</summary>
    public static SimulatedServer VllmCorrected => VllmWith(VllmStrings.Corrected, TokenizerKind.ByteFallback, "<s>", "vLLM (corrected pieces)");

    /// <summary>vLLM before its SentencePiece fix: the "▁" of a word's first piece lost.</summary>
    public static SimulatedServer VllmSpaceDropped => VllmWith(VllmStrings.SpaceDropped, TokenizerKind.ByteFallback, "<s>", "vLLM (SentencePiece spaces dropped)");

    /// <summary>vLLM 0.8.0–0.9.0 (V1) with a Llama-3-style byte-level BPE: raw "Ġ"/"ĉ"/"Ċ" strings everywhere.</summary>
    public static SimulatedServer VllmRawByteLevel => VllmWith(VllmStrings.RawByteLevel, TokenizerKind.ByteLevelBpe, "<|begin_of_text|>", "vLLM 0.8-0.9 (raw byte-level strings)");

    /// <summary>vLLM 0.8.0–0.9.0 (V1) with a SentencePiece model: raw "▁" and "&lt;0xNN&gt;" pieces.</summary>
    public static SimulatedServer VllmRawSentencePiece => VllmWith(VllmStrings.RawSentencePiece, TokenizerKind.ByteFallback, "<s>", "vLLM 0.8-0.9 (raw SentencePiece pieces)");

    /// <summary>llama.cpp's llama-server with a byte-fallback model: echo refused with 500; chat tokens cut, bytes exact.</summary>
    public static SimulatedServer LlamaCpp => new("llama.cpp", r => r.IsCompletion ? LlamaCppShapes.EchoRefusal
        : Chat(r, TokenizerKind.ByteFallback, (q, content, tokens) => LlamaCppShapes.Chat(q, content, tokens)));

    /// <summary>Ollama: echo ignored by /v1/completions; chat bytes made from the cut strings.</summary>
    public static SimulatedServer Ollama => new("Ollama", r => r.IsCompletion ? new FakeLlmReply.Raw(OllamaShapes.CompletionIgnoringEcho(r))
        : Chat(r, TokenizerKind.ByteFallback, (q, content, tokens) => OllamaShapes.Chat(q, content, tokens)));

    /// <summary>OpenAI's API: exact bytes in chat logprobs; /completions logprobs capped at 5 (a 400 above; its message here is a stand-in).</summary>
    public static SimulatedServer OpenAi => new("OpenAI API", r => r.IsCompletion
        ? new FakeLlmReply.Error(400, """{"error":{"message":"logprobs must be at most 5","type":"invalid_request_error","param":"logprobs","code":null}}""")
        : Chat(r, TokenizerKind.ByteLevelBpe, (q, content, tokens) => OpenAiShapes.Chat(q, content, tokens)));

    private static SimulatedServer VllmWith(VllmStrings how, TokenizerKind kind, string? bos, string name) => new(name, r => r.IsCompletion
        ? new FakeLlmReply.Raw(VllmShapes.Echo(r, ServerTokens.Echo(r.Prompt, kind), how, bos))
        : Chat(r, kind, (q, content, tokens) => VllmShapes.Chat(q, content, tokens, how)));

    /// <summary>The fake model's chat answer; with logprobs when asked for, cut into the server's tokens.</summary>
    private static FakeLlmReply Chat(FakeLlmRequest request, TokenizerKind kind, Func<FakeLlmRequest, string, List<ServerToken>, JsonObject> withLogprobs)
    {
        var answer = (FakeLlmReply.Completion)FakeNeuronModel.Reply(request);
        return new FakeLlmReply.Raw(request.WantsLogprobs && answer.Logprobs is not null
            ? withLogprobs(request, answer.Content, ServerTokens.Chat(answer, kind))
            : CompletionJson.Chat(request, answer.Content, null));
    }
}
