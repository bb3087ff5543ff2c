namespace NeuronEngine.Explain;

/// <summary>
/// Whether the endpoint can serve echo mode, found out before any neuron's calls are spent. Known up front: OpenAI's
/// API caps the logprobs of /v1/completions at 5, below the alternatives OpenAI's simulator reads (15). Found by one
/// tiny echo request per run (<see cref="ProbeAsync"/>), read as every sequence will be read: llama.cpp refuses echo
/// (HTTP 500 "Only no echo is supported": the gateway's refusal, no retries), Ollama ignores it (the text comes back
/// without the prompt), a server that gives logprobs for generated tokens only, or token strings that cannot be laid
/// onto the prompt, all stop the run with one line instead of failing every sequence.
/// </summary>
public static class EchoSupport
{
    /// <summary>OpenAI's limit on /v1/completions "logprobs".</summary>
    public const int OpenAiCompletionsMaxLogprobs = 5;

    /// <summary>The probe's record: accented and CJK words, which tokenizers cut into byte pieces, and a newline token.</summary>
    public static readonly string[] ProbeTokens = [" naïve", " café", " 日本", "語", "\n", " ok"];

    /// <summary>Why echo mode cannot run against <paramref name="baseUrl"/> with these options, known without a call; null when nothing is known.</summary>
    public static string? RefusedUpFront(string baseUrl, ExplainRunOptions options)
    {
        if (options.SimulatorMode != SimulatorMode.Echo) return null;
        if (Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) && uri.Host.Equals("api.openai.com", StringComparison.OrdinalIgnoreCase)
            && options.TopLogprobs > OpenAiCompletionsMaxLogprobs)
            return $"--simulator-mode echo: OpenAI's API allows at most {OpenAiCompletionsMaxLogprobs} logprobs on /v1/completions and the simulator "
                + $"reads {options.TopLogprobs} alternatives per position (--top-logprobs, 15 as OpenAI's simulator); use --simulator-mode logprobs "
                + "(chat top_logprobs go up to 20)";
        return null;
    }

    /// <summary>
    /// One echo request as the simulator sends them (same model, max_tokens, logprobs), over <see cref="ProbeTokens"/>;
    /// throws <see cref="LlmEndpointException"/> with the reason when its reply cannot be read. Cached like any call.
    /// </summary>
    public static async Task ProbeAsync(LlmGateway gateway, ExplainRunOptions options, CancellationToken cancellationToken)
    {
        var reply = await gateway.CompleteTextAsync(new LlmCompletionRequest
        {
            Model = options.SimulatorModel,
            Prompt = SimulatorPrompt.BuildEcho("the word \"ok\".", ProbeTokens, []),
            MaxTokens = options.EchoMaxTokens,
            Echo = true,
            Logprobs = options.TopLogprobs,
            Temperature = options.SimulatorTemperature,
        }, cancellationToken).ConfigureAwait(false);
        if (EchoSimulationParser.Parse(ProbeTokens, reply).Failure is { } failure)
            throw new LlmEndpointException($"{gateway.Endpoint}: echo mode cannot be read from model '{options.SimulatorModel}' (a probe of "
                + $"{ProbeTokens.Length} tokens): {failure}" + (failure.Contains("--simulator-mode", StringComparison.Ordinal) ? "" : "; use --simulator-mode logprobs (or json)"));
    }
}
