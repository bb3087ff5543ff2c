namespace NeuronEngine.Explain;

/// <summary>The run stopped because a budget (--max-calls, --max-tokens-total) is spent; rerunning continues.</summary>
public sealed class LlmBudgetExceededException(string message) : Exception(message);

/// <summary>Per-run limits on what may be spent; null means no limit.</summary>
public sealed record LlmBudget(long? MaxCalls = null, long? MaxTokensTotal = null);

/// <summary>Prices in US dollars per million tokens, for the cost estimate; null when unknown.</summary>
public sealed record LlmPrices(decimal? InputPerMillion = null, decimal? OutputPerMillion = null);

/// <summary>A snapshot of a run's spending.</summary>
public sealed record LlmUsageReport(long Calls, long CacheHits, long Retries, long InputTokens, long OutputTokens, decimal? EstimatedCostUsd)
{
    /// <summary>Requests that joined an identical call already in flight instead of making their own.</summary>
    public long SharedInFlight { get; init; }

    public long TotalTokens => InputTokens + OutputTokens;

    public override string ToString() =>
        $"{Calls} LLM calls ({CacheHits} more answered from the cache, "
        + (SharedInFlight > 0 ? $"{SharedInFlight} shared with an identical call in flight, " : "") + $"{Retries} retries), "
        + $"{InputTokens:N0} input + {OutputTokens:N0} output tokens, estimated cost "
        + (EstimatedCostUsd is decimal c ? $"${c:0.####}" : "unknown (give --price-input and --price-output, USD per million tokens)");
}

/// <summary>
/// Counts what a run spends (calls made, cache hits, retries, tokens) and enforces its budget. Thread-safe:
/// calls run concurrently. Only calls that reach the endpoint count against the budget; cache hits are free.
/// </summary>
public sealed class LlmUsage(LlmBudget budget, LlmPrices prices)
{
    private long _calls, _cacheHits, _shared, _retries, _inputTokens, _outputTokens;

    public LlmBudget Budget { get; } = budget;

    /// <summary>Claims one call of the budget; throws <see cref="LlmBudgetExceededException"/> when none is left.</summary>
    public void ClaimCall()
    {
        if (Budget.MaxTokensTotal is long maxTokens && Interlocked.Read(ref _inputTokens) + Interlocked.Read(ref _outputTokens) >= maxTokens)
            throw new LlmBudgetExceededException($"--max-tokens-total {maxTokens} reached");
        long calls = Interlocked.Increment(ref _calls);
        if (Budget.MaxCalls is long maxCalls && calls > maxCalls)
        {
            Interlocked.Decrement(ref _calls);
            throw new LlmBudgetExceededException($"--max-calls {maxCalls} reached");
        }
    }

    public void AddCacheHit() => Interlocked.Increment(ref _cacheHits);
    public void AddSharedInFlight() => Interlocked.Increment(ref _shared);
    public void AddRetry() => Interlocked.Increment(ref _retries);

    public void AddTokens(long input, long output)
    {
        Interlocked.Add(ref _inputTokens, input);
        Interlocked.Add(ref _outputTokens, output);
    }

    public LlmUsageReport Report()
    {
        long input = Interlocked.Read(ref _inputTokens), output = Interlocked.Read(ref _outputTokens);
        decimal? cost = prices.InputPerMillion is decimal pi && prices.OutputPerMillion is decimal po
            ? (input * pi + output * po) / 1_000_000m
            : null;
        return new LlmUsageReport(Interlocked.Read(ref _calls), Interlocked.Read(ref _cacheHits), Interlocked.Read(ref _retries), input, output, cost)
        {
            SharedInFlight = Interlocked.Read(ref _shared),
        };
    }
}
