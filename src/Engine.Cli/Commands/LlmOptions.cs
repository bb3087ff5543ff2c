using System.CommandLine;
using System.Text.Json;
using NeuronEngine.Explain;
using NeuronEngine.Model;

namespace NeuronEngine.Cli.Commands;

/// <summary>Everything an LLM command needs, from the command line, then the --config file, then defaults.</summary>
internal sealed record LlmCommandSettings(
    string BaseUrl, ExplainRunOptions Run, LlmResilienceOptions Resilience, LlmBudget Budget, LlmPrices Prices,
    string? CachePath, NeuronSelection Selection);

/// <summary>
/// The options shared by `engine explain`, `simulate` and `run`. Each can also be given in a JSON --config
/// file under its name without dashes ("base-url" or "base_url"); the command line wins. The API key is
/// read only from the environment (ENGINE_API_KEY, else OPENAI_API_KEY) and is refused in the config file.
/// </summary>
internal sealed class LlmOptions
{
    public const string ApiKeyVariable = "ENGINE_API_KEY";
    public const string OpenAiApiKeyVariable = "OPENAI_API_KEY";
    public const string BaseUrlVariable = "ENGINE_BASE_URL";
    public const string CacheFileName = "llm-calls.sqlite";

    public readonly Option<string> Records = new("--records") { Description = "neuron records in OpenAI's layout: {layer}/{neuron}.json (NeuronRecord)", Required = true };
    public readonly Option<string> Out = new("--out") { Description = "output directory", Required = true };
    public readonly Option<string?> Config = new("--config") { Description = "JSON file with any of these options by name (e.g. {\"base-url\": …, \"explainer-model\": …}); the command line wins" };
    public readonly Option<string?> BaseUrl = new("--base-url") { Description = $"OpenAI-compatible endpoint including /v1 (also ${BaseUrlVariable}); the key comes from ${ApiKeyVariable} or ${OpenAiApiKeyVariable}" };
    public readonly Option<string?> ExplainerModel = new("--explainer-model") { Description = "model that writes explanations" };
    public readonly Option<string?> SimulatorModel = new("--simulator-model") { Description = "model that simulates activations (default: the explainer model)" };
    public readonly Option<string?> SimulatorMode = new("--simulator-mode") { Description = "logprobs (chat; expected value from top logprobs), json (chat structured output, for endpoints without logprobs) or echo (OpenAI's method: /completions with echo, max_tokens 0, logprobs); default logprobs" };
    public readonly Option<int?> EchoMaxTokens = new("--echo-max-tokens") { Description = "max_tokens of echo-mode requests: 0 as OpenAI's simulator (default), 1 for servers that refuse 0" };
    public readonly Option<bool> NoCalibration = new("--no-calibration") { Description = "do not simulate the calibration split (halves the simulator calls; the calibrated scores are then null)" };
    public readonly Option<int?> Samples = new("--samples") { Description = "candidate explanations per neuron, each simulated and scored (default 1)" };
    public readonly Option<int?> ExamplesPerSplit = new("--examples-per-split") { Description = "records per split (OpenAI's n_examples_per_split): top records shown to the explainer, top + random records scored and calibrated on; a record needs 4× as many top and 3× as many random records (default 5)" };
    public readonly Option<int?> ContextTokens = new("--context-tokens") { Description = "explainer context window; prompts shrink to fit (default 8192)" };
    public readonly Option<int?> TopLogprobs = new("--top-logprobs") { Description = "alternatives per token in logprobs and echo modes, at most 20 on OpenAI (default 15, as OpenAI's simulator)" };
    public readonly Option<double?> Temperature = new("--explainer-temperature") { Description = "explainer sampling temperature (default 1; the simulator uses 0)" };
    public readonly Option<int?> Concurrency = new("--concurrency") { Description = "LLM calls in flight at once (default 4)" };
    public readonly Option<int?> Retries = new("--retries") { Description = "retries of a call on 429, 5xx, timeouts (default 6)" };
    public readonly Option<double?> Timeout = new("--timeout") { Description = "seconds per attempt (default 120)" };
    public readonly Option<double?> RetryDelay = new("--retry-delay") { Description = "first backoff in seconds, doubling with jitter (default 1)" };
    public readonly Option<long?> MaxCalls = new("--max-calls") { Description = "stop after this many calls to the endpoint (cache hits are free); rerun to continue" };
    public readonly Option<long?> MaxTokensTotal = new("--max-tokens-total") { Description = "stop once this many tokens (input + output) are spent; rerun to continue" };
    public readonly Option<decimal?> PriceInput = new("--price-input") { Description = "USD per million input tokens, for the cost estimate" };
    public readonly Option<decimal?> PriceOutput = new("--price-output") { Description = "USD per million output tokens, for the cost estimate" };
    public readonly Option<string?> Cache = new("--cache") { Description = $"SQLite call cache (default: {CacheFileName} in $ENGINE_CACHE, else in ~/.cache/neuron-engine)" };
    public readonly Option<bool> NoCache = new("--no-cache") { Description = "neither read nor write the call cache" };
    public readonly Option<string?> Layers = new("--layers") { Description = "all, or layers such as 0,3,5-7" };
    public readonly Option<string?> Neurons = new("--neurons") { Description = "all, or neuron indices such as 0-99,512 (within each selected layer)" };
    public readonly Option<int?> Sample = new("--sample") { Description = "work on N neurons drawn at random from the selection (see --seed)" };
    public readonly Option<int?> Seed = new("--seed") { Description = "seed of --sample (default 0)" };

    /// <summary>`engine simulate` calls no explainer: a simulator model alone is enough.</summary>
    public bool SimulatorOnly { get; set; }

    public IEnumerable<Option> All => [Records, Out, Config, BaseUrl, ExplainerModel, SimulatorModel, SimulatorMode, EchoMaxTokens, NoCalibration, Samples, ExamplesPerSplit,
        ContextTokens, TopLogprobs, Temperature, Concurrency, Retries, Timeout, RetryDelay, MaxCalls, MaxTokensTotal, PriceInput, PriceOutput,
        Cache, NoCache, Layers, Neurons, Sample, Seed];

    public static string? ApiKeyFromEnvironment() =>
        Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key ? key
        : Environment.GetEnvironmentVariable(OpenAiApiKeyVariable) is { Length: > 0 } openAi ? openAi : null;

    public LlmCommandSettings Resolve(ParseResult r)
    {
        var config = ConfigFile.Load(r.GetValue(Config), All.Select(o => o.Name.TrimStart('-')).ToHashSet());
        string? Text(Option<string?> o) => r.GetValue(o) ?? config.String(o.Name);
        int Int(Option<int?> o, int fallback, int min) => Check(o.Name, r.GetValue(o) ?? config.Int(o.Name) ?? fallback, min);

        string baseUrl = Text(BaseUrl) ?? (Environment.GetEnvironmentVariable(BaseUrlVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null) ?? throw new ArgumentException(
            "no LLM endpoint configured: give --base-url URL (or \"base-url\" in --config FILE, or set ENGINE_BASE_URL), e.g. "
            + "https://api.openai.com/v1, http://localhost:8000/v1 (vLLM) or http://localhost:11434/v1 (Ollama), and --explainer-model NAME; "
            + $"put the API key, if the endpoint needs one, in {ApiKeyVariable} (or {OpenAiApiKeyVariable})");
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--base-url {baseUrl}: not an http(s) URL (expected e.g. https://api.openai.com/v1)");
        string explainer = Text(ExplainerModel) ?? (SimulatorOnly ? Text(SimulatorModel) : null) ?? throw new ArgumentException(
            SimulatorOnly ? "no simulator model configured: give --simulator-model NAME (or \"simulator-model\" in --config FILE)" :
            "no explainer model configured: give --explainer-model NAME (or \"explainer-model\" in --config FILE), e.g. gpt-4o-mini, or the model your vLLM/Ollama server serves");
        string modeText = Text(SimulatorMode) ?? "logprobs";
        var mode = modeText.ToLowerInvariant() switch
        {
            "logprobs" => Explain.SimulatorMode.Logprobs,
            "json" => Explain.SimulatorMode.Json,
            "echo" => Explain.SimulatorMode.Echo,
            _ => throw new ArgumentException($"--simulator-mode {modeText}: expected logprobs, json or echo"),
        };
        double timeout = r.GetValue(Timeout) ?? config.Double(Timeout.Name) ?? 120;
        double retryDelay = r.GetValue(RetryDelay) ?? config.Double(RetryDelay.Name) ?? 1;
        if (!(timeout > 0)) throw new ArgumentException($"--timeout {timeout}: must be positive");
        if (retryDelay < 0) throw new ArgumentException($"--retry-delay {retryDelay}: must not be negative");
        int concurrency = Int(Concurrency, 4, 1);
        int topLogprobs = Int(TopLogprobs, 15, 1);
        if (topLogprobs > 20) throw new ArgumentException($"--top-logprobs {topLogprobs}: at most 20 (the OpenAI API's limit, which vLLM follows)");
        var run = new ExplainRunOptions
        {
            ExplainerModel = explainer,
            SimulatorModel = Text(SimulatorModel) ?? explainer,
            SimulatorMode = mode,
            Calibrate = !(r.GetValue(NoCalibration) || config.Bool(NoCalibration.Name) == true),
            EchoMaxTokens = Int(EchoMaxTokens, 0, 0),
            Samples = Int(Samples, 1, 1),
            ExamplesPerSplit = Int(ExamplesPerSplit, 5, 1),
            ContextTokens = Int(ContextTokens, 8192, 256),
            TopLogprobs = topLogprobs,
            ExplainerTemperature = r.GetValue(Temperature) ?? config.Double(Temperature.Name) ?? 1.0,
            NeuronConcurrency = concurrency,
        };
        var resilience = new LlmResilienceOptions
        {
            Concurrency = concurrency,
            MaxRetries = Int(Retries, 6, 0),
            AttemptTimeout = TimeSpan.FromSeconds(timeout),
            RetryBaseDelay = TimeSpan.FromSeconds(retryDelay),
        };
        var budget = new LlmBudget(r.GetValue(MaxCalls) ?? config.Long(MaxCalls.Name), r.GetValue(MaxTokensTotal) ?? config.Long(MaxTokensTotal.Name));
        var prices = new LlmPrices(r.GetValue(PriceInput) ?? config.Decimal(PriceInput.Name), r.GetValue(PriceOutput) ?? config.Decimal(PriceOutput.Name));
        bool noCache = r.GetValue(NoCache) || config.Bool(NoCache.Name) == true;
        string? cache = noCache ? null : Text(Cache) ?? Path.Combine(SyntheticModelCache.Root, CacheFileName);
        var selection = new NeuronSelection(Text(Layers), Text(Neurons), r.GetValue(Sample) ?? config.Int(Sample.Name), r.GetValue(Seed) ?? config.Int(Seed.Name) ?? 0);
        return new LlmCommandSettings(baseUrl, run, resilience, budget, prices, cache, selection);
    }

    private static int Check(string name, int value, int min) =>
        value >= min ? value : throw new ArgumentException($"{name} {value}: must be at least {min}");

    /// <summary>The --config JSON object, keys normalised to option names ("base_url" → "--base-url").</summary>
    private sealed class ConfigFile(string? path, Dictionary<string, JsonElement> values)
    {
        public static ConfigFile Load(string? path, IReadOnlySet<string> known)
        {
            if (path is null) return new ConfigFile(null, []);
            if (!File.Exists(path)) throw new FileNotFoundException($"--config {path}: no such file");
            JsonElement root;
            try { root = JsonDocument.Parse(File.ReadAllText(path)).RootElement; }
            catch (JsonException e) { throw new InvalidDataException($"--config {path}: malformed JSON: {e.Message}"); }
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"--config {path}: expected a JSON object of option names and values");
            var values = new Dictionary<string, JsonElement>();
            foreach (var property in root.EnumerateObject())
            {
                string name = property.Name.Replace('_', '-').TrimStart('-').ToLowerInvariant();
                if (name is "api-key" or "key" or "openai-api-key")
                    throw new InvalidDataException($"--config {path}: \"{property.Name}\" is refused: the API key is read only from {ApiKeyVariable} or {OpenAiApiKeyVariable}, so it never lands in a file");
                if (!known.Contains(name) || name is "config")
                    throw new InvalidDataException($"--config {path}: unknown option \"{property.Name}\"");
                values["--" + name] = property.Value;
            }
            return new ConfigFile(path, values);
        }

        public string? String(string name) => Get(name, JsonValueKind.String, e => e.GetString());
        public int? Int(string name) => Get<int?>(name, JsonValueKind.Number, e => e.TryGetInt32(out int v) ? v : throw Bad(name, "an integer"));
        public long? Long(string name) => Get<long?>(name, JsonValueKind.Number, e => e.TryGetInt64(out long v) ? v : throw Bad(name, "an integer"));
        public double? Double(string name) => Get<double?>(name, JsonValueKind.Number, e => e.GetDouble());
        public decimal? Decimal(string name) => Get<decimal?>(name, JsonValueKind.Number, e => e.GetDecimal());
        public bool? Bool(string name) => values.TryGetValue(name, out var e)
            ? e.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Bad(name, "true or false") }
            : null;

        private T? Get<T>(string name, JsonValueKind kind, Func<JsonElement, T> read)
        {
            if (!values.TryGetValue(name, out var e)) return default;
            if (e.ValueKind != kind) throw Bad(name, kind == JsonValueKind.String ? "a string" : "a number");
            return read(e);
        }

        private InvalidDataException Bad(string name, string expected) =>
            new($"--config {path}: \"{name.TrimStart('-')}\" must be {expected}");
    }
}
