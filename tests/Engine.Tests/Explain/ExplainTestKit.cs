using NeuronEngine.Explain;

namespace NeuronEngine.Tests.Explain;

/// <summary>Gateways and options for tests: short timeouts and backoffs so the whole class stays fast.</summary>
public static class ExplainTestKit
{
    /// <summary>Stands for a real API key; must never reach the cache, the results or the logs.</summary>
    public const string SentinelKey = "sk-test-SENTINEL-7f3a9c";

    public static readonly (int Layer, int Neuron)[] Neurons = [(0, 1), (0, 2), (1, 0)];

    /// <summary>Simulator calls per explanation with 2 records per split: 4 valid + 4 calibration records.</summary>
    public const int SimulatorCallsPerExplanation = 8;

    public static LlmResilienceOptions Fast(int retries = 2, double timeoutSeconds = 10) => new()
    {
        Concurrency = 4,
        MaxRetries = retries,
        AttemptTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        MaxRetryDelay = TimeSpan.FromSeconds(5),
    };

    public static LlmGateway Gateway(FakeLlmServer server, LlmCallCache? cache, LlmResilienceOptions? resilience = null,
        LlmBudget? budget = null, ICollection<string>? log = null) =>
        LlmGateway.ForOpenAiCompatible(server.BaseUrl, SentinelKey, cache, new LlmUsage(budget ?? new LlmBudget(), new LlmPrices(1m, 2m)),
            resilience ?? Fast(), line => { if (log is not null) lock (log) log.Add(line); });

    public static ExplainRunOptions Options(SimulatorMode mode) => new()
    {
        ExplainerModel = "explainer-model",
        SimulatorModel = "simulator-model",
        SimulatorMode = mode,
        ExamplesPerSplit = 2, // explain on top 0,4; score (valid) top 2,6 and random 1,4; calibrate on top 1,5 and random 0,3
    };

    /// <summary>Every file under a directory, by relative path, as bytes.</summary>
    public static SortedDictionary<string, byte[]> Snapshot(string directory) => new(
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != "usage.json")
            .ToDictionary(f => Path.GetRelativePath(directory, f), File.ReadAllBytes), StringComparer.Ordinal);

    public static LlmTestRequest ExplainRequest(string text = "Neuron 1\nActivations:\n<start>\n cat\t10\n<end>\n") => new(text);
}

/// <summary>A minimal explainer-shaped request for gateway tests.</summary>
public sealed record LlmTestRequest(string UserText)
{
    public LlmRequest ToRequest() => new()
    {
        Model = "explainer-model",
        Messages = [new LlmMessage(LlmRole.System, ExplainerPrompt.SystemMessage), new LlmMessage(LlmRole.User, UserText)],
        MaxOutputTokens = 40,
    };
}
