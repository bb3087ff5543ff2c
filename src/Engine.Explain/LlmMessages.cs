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

/// <summary>One alternative for a generated token and its log probability.</summary>
public sealed record LlmTopLogprob(string Token, double Logprob);

/// <summary>A generated token, its log probability and the most likely alternatives at its position.</summary>
public sealed record LlmTokenLogprob(string Token, double Logprob, IReadOnlyList<LlmTopLogprob> Top);

/// <summary>A chat reply as cached: the text, the per-token logprobs when asked for, and the token usage.</summary>
public sealed record LlmReply(string Text, IReadOnlyList<LlmTokenLogprob>? Logprobs, long InputTokens, long OutputTokens);
