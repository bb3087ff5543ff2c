using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using ChatCompletion = OpenAI.Chat.ChatCompletion;
using ChatCompletionOptions = OpenAI.Chat.ChatCompletionOptions;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace NeuronEngine.Explain;

/// <summary>A call that still failed after every retry (5xx, 429, timeouts); the neuron fails, the run goes on.</summary>
public sealed class LlmCallFailedException(string message) : Exception(message);

/// <summary>
/// The endpoint refuses calls outright (wrong key, unknown model, bad request, a request it does not support such as
/// llama.cpp's 500 "Only no echo is supported"): no neuron can succeed, the run stops with the server's message.
/// </summary>
public sealed class LlmEndpointException(string message) : Exception(message);

/// <summary>
/// How hard to try a call: one retry layer (ours; the OpenAI SDK's own retries are switched off). The initial values are
/// the defaults of the LLM commands' options (`engine explain|simulate|run --help` shows them from here).
/// </summary>
public sealed record LlmResilienceOptions
{
    public static readonly LlmResilienceOptions Defaults = new();

    /// <summary>Calls in flight at once, over the whole run.</summary>
    public int Concurrency { get; init; } = 4;
    /// <summary>Retries after the first attempt, on 429, 408, 5xx, timeouts and connection failures (never on a refusal: <see cref="LlmFailures"/>).</summary>
    public int MaxRetries { get; init; } = 6;
    /// <summary>Each attempt's time limit.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>First backoff; it doubles per retry, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Cap on one backoff and on an honoured Retry-After.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>
/// Every LLM call of a run goes through here, chat (/chat/completions through IChatClient) and text
/// completions (/completions, echo mode) alike: the cache first (a hit costs nothing), then an identical
/// request already in flight (joined, not sent again), then the budget, a concurrency slot, and the call
/// itself under retry with exponential backoff and jitter (Retry-After honoured) and a per-attempt timeout.
/// Only transient failures are retried; a refusal of the request itself ends the call at once
/// (<see cref="LlmFailures"/>). Replies are cached as soon as they arrive.
/// </summary>
public sealed class LlmGateway : IDisposable
{
    private readonly string _endpoint;
    private readonly Func<string, IChatClient> _clientForModel;
    private readonly Dictionary<string, IChatClient> _clients = [];
    private readonly LlmCallCache? _cache;
    private readonly SemaphoreSlim _slots;
    private readonly ResiliencePipeline _pipeline;
    private readonly Action<string> _log;
    private readonly LlmResilienceOptions _options;
    private readonly Func<LlmCompletionRequest, CancellationToken, Task<LlmReply>>? _completions;

    /// <summary>Calls in flight by cache key: an identical request joins the call instead of paying for it again.</summary>
    private readonly ConcurrentDictionary<string, Task<LlmReply>> _inFlight = new();

    /// <summary>Removes secrets from text that came back from the endpoint (an error body may quote the key).</summary>
    private readonly Func<string, string> _redact;

    public LlmUsage Usage { get; }

    /// <summary>The base URL the calls go to.</summary>
    public string Endpoint => _endpoint;

    /// <param name="endpoint">The base URL; part of every cache key.</param>
    /// <param name="clientForModel">Makes the chat client of one model (called once per model).</param>
    /// <param name="completions">Sends a /completions request (echo mode); null when the endpoint has none.</param>
    public LlmGateway(string endpoint, Func<string, IChatClient> clientForModel, LlmCallCache? cache, LlmUsage usage,
        LlmResilienceOptions? resilience = null, Action<string>? log = null, Func<string, string>? redact = null,
        Func<LlmCompletionRequest, CancellationToken, Task<LlmReply>>? completions = null)
    {
        _completions = completions;
        var options = _options = resilience ?? new LlmResilienceOptions();
        _redact = redact ?? (s => s);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Concurrency, 1, nameof(resilience));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxRetries, nameof(resilience));
        _endpoint = endpoint;
        _clientForModel = clientForModel;
        _cache = cache;
        Usage = usage;
        _log = log ?? (_ => { });
        _slots = new SemaphoreSlim(options.Concurrency);
        _pipeline = BuildPipeline(options);
    }

    /// <summary>
    /// A gateway to an OpenAI-compatible endpoint (OpenAI, Azure OpenAI's v1 API, vLLM, Ollama, llama.cpp):
    /// requests go to {baseUrl}/chat/completions, and echo mode's to {baseUrl}/completions through the same
    /// SDK pipeline. The key is handed to the SDK and kept nowhere else; local servers that need none get a
    /// placeholder.
    /// </summary>
    public static LlmGateway ForOpenAiCompatible(string baseUrl, string? apiKey, LlmCallCache? cache, LlmUsage usage,
        LlmResilienceOptions? resilience = null, Action<string>? log = null)
    {
        var options = resilience ?? new LlmResilienceOptions();
        var client = new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(apiKey) ? "no-key" : apiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(baseUrl),
            // One retry layer only: the SDK's default policy retries 429/5xx itself (checked: 4 requests per call
            // against an always-500 server), which under ours would multiply attempts and hide them from the count.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // Our pipeline times each attempt; the SDK's limit only has to stay out of its way.
            NetworkTimeout = options.AttemptTimeout + TimeSpan.FromSeconds(30),
        });
        string Redact(string text) => string.IsNullOrEmpty(apiKey) ? text : text.Replace(apiKey, "***", StringComparison.Ordinal);
        var completions = new OpenAiCompletionsApi(client.Pipeline, baseUrl);
        return new LlmGateway(baseUrl, model => client.GetChatClient(model).AsIChatClient(), cache, usage, options, log, Redact, completions.SendAsync);
    }

    /// <summary>A chat call.</summary>
    public Task<LlmReply> CompleteAsync(LlmRequest request, CancellationToken cancellationToken = default)
    {
        IChatClient client;
        lock (_clients)
            if (!_clients.TryGetValue(request.Model, out client!)) _clients[request.Model] = client = _clientForModel(request.Model);
        return CallAsync(LlmCallCache.KeyFor(_endpoint, request), request.Model,
            async token => ToReply(await client.GetResponseAsync(ToChatMessages(request), ToChatOptions(request), token).ConfigureAwait(false)),
            refusalHint: "", cancellationToken);
    }

    /// <summary>A text completion call to {base}/completions (echo mode).</summary>
    public Task<LlmReply> CompleteTextAsync(LlmCompletionRequest request, CancellationToken cancellationToken = default)
    {
        var send = _completions ?? throw new InvalidOperationException("this gateway has no /completions endpoint");
        return CallAsync(LlmCallCache.KeyFor(_endpoint, request), request.Model, token => send(request, token),
            request.Echo ? EchoRefusedHint : "", cancellationToken);
    }

    /// <summary>Said after the server's message when /completions with echo is refused.</summary>
    public const string EchoRefusedHint =
        "; the endpoint does not serve OpenAI's echo completions: use --simulator-mode logprobs (or json where it returns no logprobs)";

    /// <summary>Cache, then an identical call in flight, then a call of our own (budget, slot, retries), cached.</summary>
    private async Task<LlmReply> CallAsync(string key, string model, Func<CancellationToken, Task<LlmReply>> send, string refusalHint,
        CancellationToken cancellationToken)
    {
        if (_cache?.TryGet(key) is { } cached)
        {
            Usage.AddCacheHit();
            return cached;
        }
        var mine = new TaskCompletionSource<LlmReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        var call = _inFlight.GetOrAdd(key, mine.Task);
        if (call != mine.Task)
        {
            Usage.AddSharedInFlight();
            return await call.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        try
        {
            // An identical call may have finished (cached, then left the table) between the lookup above and here.
            if (_cache?.TryGet(key) is { } justCached)
            {
                Usage.AddCacheHit();
                mine.SetResult(justCached);
                return justCached;
            }
            var reply = await SendAsync(model, send, refusalHint, cancellationToken).ConfigureAwait(false);
            _cache?.Put(key, model, reply);
            mine.SetResult(reply);
            return reply;
        }
        catch (OperationCanceledException e)
        {
            mine.TrySetCanceled(e.CancellationToken);
            throw;
        }
        catch (Exception e)
        {
            mine.TrySetException(e);
            _ = mine.Task.Exception; // observed here; the requests that joined rethrow it themselves
            throw;
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, Task<LlmReply>>(key, mine.Task));
        }
    }

    /// <summary>
    /// Budget, slot, then the call under retries. A refusal (<see cref="LlmFailures.IsRefusal"/>: a 4xx, a 501, a 5xx
    /// saying the request is unsupported) is not retried: it stops the run with the server's message.
    /// </summary>
    private async Task<LlmReply> SendAsync(string model, Func<CancellationToken, Task<LlmReply>> send, string refusalHint, CancellationToken cancellationToken)
    {
        Usage.ClaimCall();
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        LlmReply reply;
        try
        {
            reply = await _pipeline.ExecuteAsync(async token => await send(token).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (ClientResultException e) when (LlmFailures.IsTransient(e))
        {
            throw new LlmCallFailedException($"{model}: {Describe(e)} after {_options.MaxRetries} retries");
        }
        catch (TimeoutRejectedException e)
        {
            throw new LlmCallFailedException($"{model}: {Describe(e)} ({_options.AttemptTimeout.TotalSeconds:0.###} s) after {_options.MaxRetries} retries");
        }
        catch (HttpRequestException e)
        {
            throw new LlmCallFailedException($"{model}: {Describe(e)} after {_options.MaxRetries} retries");
        }
        catch (ClientResultException e)
        {
            throw new LlmEndpointException($"{_endpoint} refused a call to model '{model}' with HTTP {e.Status}: {_redact(LlmFailures.Message(e))}"
                + LlmFailures.Hint(e.Status) + refusalHint);
        }
        finally
        {
            _slots.Release();
        }
        Usage.AddTokens(reply.InputTokens, reply.OutputTokens);
        return reply;
    }

    /// <summary>Retries (when any: Polly refuses MaxRetryAttempts 0, and --retries 0 is a legitimate choice) around a per-attempt timeout.</summary>
    private ResiliencePipeline BuildPipeline(LlmResilienceOptions options)
    {
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetries > 0) builder.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder()
                .Handle<ClientResultException>(LlmFailures.IsTransient)
                .Handle<TimeoutRejectedException>()
                .Handle<HttpRequestException>(),
            MaxRetryAttempts = options.MaxRetries,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.RetryBaseDelay,
            MaxDelay = options.MaxRetryDelay,
            DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Exception, options.MaxRetryDelay)),
            OnRetry = args =>
            {
                Usage.AddRetry();
                _log($"retrying an LLM call in {args.RetryDelay.TotalSeconds:0.###} s (attempt {args.AttemptNumber + 2}): {Describe(args.Outcome.Exception)}");
                return ValueTask.CompletedTask;
            },
        });
        return builder.AddTimeout(options.AttemptTimeout).Build();
    }

    /// <summary>The server's Retry-After (seconds or HTTP date) or retry-after-ms, capped; null lets the backoff decide.</summary>
    internal static TimeSpan? RetryAfter(Exception? exception, TimeSpan cap)
    {
        if (exception is not ClientResultException { Status: 429 or 503 } e || e.GetRawResponse() is not { } response) return null;
        TimeSpan? wait = null;
        if (response.Headers.TryGetValue("retry-after-ms", out var ms) && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out double millis))
            wait = TimeSpan.FromMilliseconds(millis);
        else if (response.Headers.TryGetValue("Retry-After", out var value) && value is not null)
        {
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds)) wait = TimeSpan.FromSeconds(seconds);
            else if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) wait = at - DateTimeOffset.UtcNow;
        }
        if (wait is not { } w) return null;
        return w < TimeSpan.Zero ? TimeSpan.Zero : w > cap ? cap : w;
    }

    /// <summary>What went wrong, in a few words: never the request (which carries the authorization header).</summary>
    private string Describe(Exception? e) => e switch
    {
        ClientResultException c when c.Status != 0 => LlmFailures.ServerMessage(c) is { } said ? $"HTTP {c.Status} ({_redact(said)})" : $"HTTP {c.Status}",
        ClientResultException c => $"no response ({_redact(c.InnerException?.Message ?? c.Message)})",
        TimeoutRejectedException => "no reply within the attempt timeout",
        HttpRequestException h => $"no response ({_redact(h.Message)})",
        null => "unknown failure",
        _ => e.GetType().Name,
    };

    private static List<ChatMessage> ToChatMessages(LlmRequest request) => request.Messages
        .Select(m => new ChatMessage(m.Role switch
        {
            LlmRole.System => ChatRole.System,
            LlmRole.Assistant => ChatRole.Assistant,
            _ => ChatRole.User,
        }, m.Text))
        .ToList();

    private static ChatOptions ToChatOptions(LlmRequest request)
    {
        var options = new ChatOptions { MaxOutputTokens = request.MaxOutputTokens, Temperature = (float)request.Temperature };
        if (request.JsonSchema is { } schema)
            options.ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(schema).RootElement, "simulated_activations");
        if (request.TopLogprobs is int top)
            // Logprobs are not part of ChatOptions: they travel in the OpenAI SDK's own ChatCompletionOptions, which
            // Microsoft.Extensions.AI's OpenAI client takes through RawRepresentationFactory.
            options.RawRepresentationFactory = _ => new ChatCompletionOptions { IncludeLogProbabilities = true, TopLogProbabilityCount = top };
        return options;
    }

    private static LlmReply ToReply(ChatResponse response)
    {
        List<LlmTokenLogprob>? logprobs = null;
        if (response.RawRepresentation is ChatCompletion { ContentTokenLogProbabilities: { Count: > 0 } details })
            logprobs = details.Select(d => new LlmTokenLogprob(d.Token, d.LogProbability,
                d.TopLogProbabilities.Select(t => new LlmTopLogprob(t.Token, t.LogProbability) { Bytes = BytesOf(t.Utf8Bytes) }).ToArray())
            {
                Bytes = BytesOf(d.Utf8Bytes),
            }).ToList();
        return new LlmReply(response.Text, logprobs, response.Usage?.InputTokenCount ?? 0, response.Usage?.OutputTokenCount ?? 0);
    }

    /// <summary>A token's "bytes" as sent (null when absent): the text alignment needs them where the token string is cut.</summary>
    private static byte[]? BytesOf(ReadOnlyMemory<byte>? bytes) => bytes is { } b ? b.ToArray() : null;

    public void Dispose()
    {
        foreach (var client in _clients.Values) client.Dispose();
        _slots.Dispose();
    }
}
