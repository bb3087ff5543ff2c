using System.Text.Json.Serialization;

namespace NeuronEngine.Explain;

/// <summary>Who speaks a chat message.</summary>
public enum LlmRole { System, User, Assistant }

/// <summary>One chat message of a prompt.</summary>
public sealed record LlmMessage(LlmRole Role, string Text);

/// <summary>
/// One chat call, everything that decides its reply: the cache key is a hash of this plus the endpoint.
/// </summary>
public sealed record LlmRequest
{
    public required string Model { get; init; }
    public required IReadOnlyList<LlmMessage> Messages { get; init; }
    public int MaxOutputTokens { get; init; } = 256;
    public double Temperature { get; init; }

    /// <summary>Ask for this many alternatives per generated token (null: no logprobs).</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>Structured output: the reply must match this JSON schema (null: free text).</summary>
    public string? JsonSchema { get; init; }

    /// <summary>Which of several samples of the same prompt this is; only varies the cache key.</summary>
    public int SampleIndex { get; init; }
}

/// <summary>
/// One call to {base}/completions, everything that decides its reply (the cache key is a hash of this plus
/// the endpoint). Echo mode sends OpenAI's simulator request: the prompt echoed back with the top
/// <see cref="Logprobs"/> alternatives at every prompt token, and no token generated.
/// </summary>
public sealed record LlmCompletionRequest
{
    public required string Model { get; init; }
    public required string Prompt { get; init; }
    public int MaxTokens { get; init; }
    public bool Echo { get; init; } = true;

    /// <summary>Alternatives per token (OpenAI's simulator asks for 15).</summary>
    public int Logprobs { get; init; } = 15;
    public double Temperature { get; init; }
}

/// <summary>
/// One alternative for a generated token and its log probability. <see cref="Bytes"/>: the token's UTF-8 bytes when the
/// server sends them (chat logprobs' "bytes"; exact in llama.cpp, where a piece of a character has its string cut).
/// </summary>
public sealed record LlmTopLogprob(string Token, double Logprob)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public byte[]? Bytes { get; init; }
}

/// <summary>A generated (or echoed) token, its log probability, the most likely alternatives at its position, and its bytes when sent.</summary>
public sealed record LlmTokenLogprob(string Token, double Logprob, IReadOnlyList<LlmTopLogprob> Top)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public byte[]? Bytes { get; init; }
}

/// <summary>
/// A reply as cached: the text, the per-token logprobs when asked for, and the token usage. For a
/// /completions call with echo, the tokens are the prompt's (the first has no logprob: 0 and no
/// alternatives). Where each token sits in <see cref="Text"/> is found by its bytes (<see cref="TokenAlignment"/>),
/// not from the reply's text_offset, which vLLM counts in token-string lengths.
/// </summary>
public sealed record LlmReply(string Text, IReadOnlyList<LlmTokenLogprob>? Logprobs, long InputTokens, long OutputTokens);
