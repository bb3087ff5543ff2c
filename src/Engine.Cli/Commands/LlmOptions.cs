using System.CommandLine;
using System.Text.Json;
using NeuronEngine.Explain;
using NeuronEngine.Model;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Cli.Commands;

/// <summary>Everything an LLM command needs, from the command line, then the --config file, then defaults.</summary>
internal sealed record LlmCommandSettings(
    string BaseUrl, ExplainRunOptions Run, LlmResilienceOptions Resilience, LlmBudget Budget, LlmPrices Prices,
    string? CachePath, NeuronSelection Selection);

/// <summary>
/// The options of `engine explain`, `simulate` and `run`: those all three take, the explainer's (explain, run) and
/// the simulator's (simulate, run), so each command's --help lists only what it uses. Each can also be given in a
/// JSON --config file under its name without dashes ("base-url" or "base_url"); the command line wins, then the file,
/// then the default shown in --help. One config file serves all three commands (keys a command does not use are
/// ignored). The API key is read only from the environment (ENGINE_API_KEY, else OPENAI_API_KEY) and is refused in
/// the config file. Values are checked while parsing; values from the file are checked the same way when read.
/// </summary>
internal sealed class LlmOptions
{
    public const string ApiKeyVariable = "ENGINE_API_KEY";
    public const string OpenAiApiKeyVariable = "OPENAI_API_KEY";
    public const string BaseUrlVariable = "ENGINE_BASE_URL";
    public const string CacheFileName = "llm-calls.sqlite";

    private readonly Dictionary<Option, object?> _defaults = [];

    public readonly Option<string> Records = new("--records") { Description = "neuron records in OpenAI's layout: {layer}/{neuron}.json (NeuronRecord)", Required = true };
    public readonly Option<string> Out = CommonOptions.Out();
    public readonly Option<string?> Config = new("--config") { Description = "JSON file with any of these options by name (e.g. {\"base-url\": …, \"explainer-model\": …}); the command line wins" };
    public readonly Option<string?> BaseUrl = new("--base-url") { Description = $"OpenAI-compatible endpoint including /v1 (also ${BaseUrlVariable}); the key comes from ${ApiKeyVariable} or ${OpenAiApiKeyVariable}" };
    public readonly Option<string?> ExplainerModel = new("--explainer-model") { Description = "model that writes explanations" };
    public readonly Option<string?> SimulatorModel = new("--simulator-model") { Description = "model that simulates activations (default: the explainer model)" };
    public readonly Option<string> SimulatorMode;
    public readonly Option<int> EchoMaxTokens;
    public readonly Option<bool> NoCalibration = new("--no-calibration") { Description = "do not simulate the calibration split (halves the simulator calls; the calibrated scores are then null)" };
    public readonly Option<int> Samples;
    public readonly Option<int> ExamplesPerSplit;
    public readonly Option<int> ContextTokens;
    public readonly Option<int> TopLogprobs;
    public readonly Option<double> Temperature;
    public readonly Option<int> Concurrency;
    public readonly Option<int> Retries;
    public readonly Option<double> Timeout;
    public readonly Option<double> RetryDelay;
    public readonly Option<long?> MaxCalls;
    public readonly Option<long?> MaxTokensTotal;
    public readonly Option<decimal?> PriceInput = new("--price-input") { Description = "USD per million input tokens, for the cost estimate" };
    public readonly Option<decimal?> PriceOutput = new("--price-output") { Description = "USD per million output tokens, for the cost estimate" };
    public readonly Option<string?> Cache = new("--cache") { Description = $"SQLite call cache (default: {CacheFileName} in $ENGINE_CACHE, else in ~/.cache/neuron-engine)" };
    public readonly Option<bool> NoCache = new("--no-cache") { Description = "neither read nor write the call cache" };
    public readonly Option<string?> Layers = IndexSet("--layers", "all, or layers such as 0,3,5-7");
    public readonly Option<string?> Neurons = IndexSet("--neurons", "all, or neuron indices such as 0-99,512 within each selected layer");
    public readonly Option<int?> Sample;
    public readonly Option<ulong> Seed;
    public readonly Option<int> Revise;
    public readonly Option<int> ProbeTexts;

    // The subject model, for --revise (explain, run): command line only, like every command that computes.
    public readonly Option<string?> SubjectModel = new("--model") { Description = "with --revise or --ablation: the subject model the records came from (directory with model.safetensors, or the file); checked against the records' records.json" };
    public readonly Option<string?> SubjectPreset = CommonOptions.Preset();
    public readonly Option<int> SubjectModelSeed = CommonOptions.ModelSeed();
    public readonly Option<string> Device = CommonOptions.Device();
    public readonly Option<string> Precision = CommonOptions.Precision();

    public LlmOptions()
    {
        // Every default comes from the options records the stages take (ExplainRunOptions, LlmResilienceOptions): one place.
        var run = ExplainRunOptions.Defaults;
        var resilience = LlmResilienceOptions.Defaults;
        SimulatorMode = Default(CommonOptions.OneOf(new Option<string>("--simulator-mode")
        {
            Description = "logprobs (chat; expected value from top logprobs), json (chat structured output, for endpoints without logprobs) or echo (OpenAI's method: /completions with echo, max_tokens 0, logprobs)",
        }, SimulatorModes), ModeName(run.SimulatorMode));
        EchoMaxTokens = Default(CommonOptions.NotNegative(new Option<int>("--echo-max-tokens") { Description = "max_tokens of echo-mode requests: 0 as OpenAI's simulator, 1 for servers that refuse 0" }), run.EchoMaxTokens);
        Samples = Default(CommonOptions.AtLeast(new Option<int>("--samples") { Description = "candidate explanations per neuron, each simulated and scored" }, 1), run.Samples);
        ExamplesPerSplit = Default(CommonOptions.AtLeast(new Option<int>("--examples-per-split") { Description = "records per split (OpenAI's n_examples_per_split): top records shown to the explainer, top + random records scored and calibrated on; a neuron needs 4× as many top and 3× as many random records" }, 1), run.ExamplesPerSplit);
        ContextTokens = Default(CommonOptions.AtLeast(new Option<int>("--context-tokens") { Description = "explainer context window; prompts shrink to fit" }, 256), run.ContextTokens);
        TopLogprobs = Default(Between(new Option<int>("--top-logprobs") { Description = "alternatives per token in logprobs and echo modes (OpenAI's simulator asks for 15; the OpenAI API allows at most 20)" }, 1, 20), run.TopLogprobs);
        Temperature = Default(new Option<double>("--explainer-temperature") { Description = "explainer sampling temperature (the simulator uses 0)" }, run.ExplainerTemperature);
        Concurrency = Default(CommonOptions.AtLeast(new Option<int>("--concurrency") { Description = "LLM calls in flight at once" }, 1), resilience.Concurrency);
        Retries = Default(CommonOptions.NotNegative(new Option<int>("--retries") { Description = "retries of a call on 429, 408, 5xx, timeouts and dropped connections (0: none)" }), resilience.MaxRetries);
        Timeout = Default(Positive(new Option<double>("--timeout") { Description = "seconds per attempt" }), resilience.AttemptTimeout.TotalSeconds);
        RetryDelay = Default(NotNegativeNumber(new Option<double>("--retry-delay") { Description = "first backoff in seconds, doubling with jitter" }), resilience.RetryBaseDelay.TotalSeconds);
        MaxCalls = CommonOptions.NotNegative(new Option<long?>("--max-calls") { Description = "stop after this many calls to the endpoint (cache hits are free); rerun to continue" });
        MaxTokensTotal = CommonOptions.NotNegative(new Option<long?>("--max-tokens-total") { Description = "stop once this many tokens (input + output) are spent; rerun to continue" });
        Sample = CommonOptions.AtLeast(new Option<int?>("--sample") { Description = "work on N neurons drawn at random from the selection (see --seed)" }, 1);
        Seed = Default(CommonOptions.Seed("--sample's draw"), 0UL);
        Revise = Default(CommonOptions.NotNegative(new Option<int>("--revise") { Description = "revision steps per neuron: the explainer writes test texts, the subject model (--model) measures them, the explainer revises (0: none); see docs/revise.md" }), run.Revise);
        ProbeTexts = Default(CommonOptions.NotNegative(new Option<int>("--probe-texts") { Description = "with --revise: test texts per explanation, half written to make the neuron fire, half similar but not" }), run.ProbeTexts);
    }

    /// <summary>Taken by explain, simulate and run.</summary>
    public IEnumerable<Option> Common => [Records, Out, Config, BaseUrl, ExamplesPerSplit, Concurrency, Retries, Timeout, RetryDelay, MaxCalls, MaxTokensTotal,
        PriceInput, PriceOutput, Cache, NoCache, Layers, Neurons, Sample, Seed];

    /// <summary>Only explain and run write explanations.</summary>
    public IEnumerable<Option> ExplainerOnly => [ExplainerModel, Samples, ContextTokens, Temperature, Revise, ProbeTexts];

    /// <summary>The subject model's options (explain and run, for --revise); not read from --config.</summary>
    public IEnumerable<Option> SubjectModelOptions => [SubjectModel, SubjectPreset, SubjectModelSeed, Device, Precision];

    /// <summary>Only simulate and run simulate.</summary>
    public IEnumerable<Option> SimulatorOnly => [SimulatorModel, SimulatorMode, EchoMaxTokens, NoCalibration, TopLogprobs];

    private IEnumerable<Option> All => [.. Common, .. ExplainerOnly, .. SimulatorOnly];

    /// <summary>`engine simulate` calls no explainer: a simulator model alone is enough.</summary>
    public bool SimulatorOnlyCommand { get; set; }

    public static string? ApiKeyFromEnvironment() =>
        Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key ? key
        : Environment.GetEnvironmentVariable(OpenAiApiKeyVariable) is { Length: > 0 } openAi ? openAi : null;

    public LlmCommandSettings Resolve(ParseResult r)
    {
        _configPath = r.GetValue(Config);
        var config = ConfigFile.Load(_configPath, All.Select(o => o.Name.TrimStart('-')).ToHashSet());
        bool Given(Option o) => r.GetResult(o) is { Implicit: false };
        string? Text(Option<string?> o) => Given(o) ? r.GetValue(o) : config.String(o.Name);
        // The command line, else the file (checked like the command line), else the default.
        T Value<T>(Option<T> o, Func<string, T?> fromFile) where T : struct =>
            Given(o) ? r.GetValue(o) : fromFile(o.Name) is T v ? Validated(o, v) : (T)_defaults[o]!;
        int Int(Option<int> o) => Value(o, config.Int);
        double Double(Option<double> o) => Value(o, config.Double);

        string baseUrl = Text(BaseUrl) ?? (Environment.GetEnvironmentVariable(BaseUrlVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null) ?? throw new ArgumentException(
            "no LLM endpoint configured: give --base-url URL (or \"base-url\" in --config FILE, or set ENGINE_BASE_URL), e.g. "
            + "https://api.openai.com/v1, http://localhost:8000/v1 (vLLM) or http://localhost:11434/v1 (Ollama), and --explainer-model NAME; "
            + $"put the API key, if the endpoint needs one, in {ApiKeyVariable} (or {OpenAiApiKeyVariable})");
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--base-url {baseUrl}: not an http(s) URL (expected e.g. https://api.openai.com/v1)");
        string explainer = Text(ExplainerModel) ?? (SimulatorOnlyCommand ? Text(SimulatorModel) : null) ?? throw new ArgumentException(
            SimulatorOnlyCommand ? "no simulator model configured: give --simulator-model NAME (or \"simulator-model\" in --config FILE)" :
            "no explainer model configured: give --explainer-model NAME (or \"explainer-model\" in --config FILE), e.g. gpt-4o-mini, or the model your vLLM/Ollama server serves");
        string modeText = Given(SimulatorMode) ? r.GetValue(SimulatorMode)! : config.String(SimulatorMode.Name) is { } fromFile ? Validated(SimulatorMode, fromFile) : (string)_defaults[SimulatorMode]!;
        var mode = Enum.GetValues<SimulatorMode>().Single(m => ModeName(m) == modeText.ToLowerInvariant());
        int concurrency = Int(Concurrency);
        var run = new ExplainRunOptions
        {
            ExplainerModel = explainer,
            SimulatorModel = Text(SimulatorModel) ?? explainer,
            SimulatorMode = mode,
            Calibrate = !(r.GetValue(NoCalibration) || config.Bool(NoCalibration.Name) == true),
            EchoMaxTokens = Int(EchoMaxTokens),
            Samples = Int(Samples),
            ExamplesPerSplit = Int(ExamplesPerSplit),
            ContextTokens = Int(ContextTokens),
            TopLogprobs = Int(TopLogprobs),
            ExplainerTemperature = Double(Temperature),
            NeuronConcurrency = concurrency,
            Revise = SimulatorOnlyCommand ? 0 : Int(Revise),
            ProbeTexts = SimulatorOnlyCommand ? ExplainRunOptions.Defaults.ProbeTexts : Int(ProbeTexts),
        };
        if (run.Revise > 0 && run.ProbeTexts == 0)
            throw new ArgumentException("--probe-texts 0: --revise needs at least 1 test text per explanation");
        if (EchoSupport.RefusedUpFront(baseUrl, run) is { } refused) throw new ArgumentException(refused);
        var resilience = new LlmResilienceOptions
        {
            Concurrency = concurrency,
            MaxRetries = Int(Retries),
            AttemptTimeout = TimeSpan.FromSeconds(Double(Timeout)),
            RetryBaseDelay = TimeSpan.FromSeconds(Double(RetryDelay)),
        };
        long? Long(Option<long?> o) => Given(o) ? r.GetValue(o) : config.Long(o.Name) is long v ? Validated(o, v) : null;
        var budget = new LlmBudget(Long(MaxCalls), Long(MaxTokensTotal));
        var prices = new LlmPrices(Given(PriceInput) ? r.GetValue(PriceInput) : config.Decimal(PriceInput.Name),
            Given(PriceOutput) ? r.GetValue(PriceOutput) : config.Decimal(PriceOutput.Name));
        bool noCache = r.GetValue(NoCache) || config.Bool(NoCache.Name) == true;
        string? cache = noCache ? null : Text(Cache) ?? Path.Combine(SyntheticModelCache.Root, CacheFileName);
        int? sample = Given(Sample) ? r.GetValue(Sample) : config.Int(Sample.Name) is int n ? Validated(Sample, n) : null;
        ulong seed = Given(Seed) ? r.GetValue(Seed) : config.Long(Seed.Name) is long fileSeed
            ? (fileSeed >= 0 ? (ulong)fileSeed : throw new InvalidDataException($"--config {_configPath}: \"seed\" {fileSeed}: must not be negative")) : 0;
        string? layers = Text(Layers), neurons = Text(Neurons);
        if (!Given(Layers) && layers is not null) Validated(Layers, layers);
        if (!Given(Neurons) && neurons is not null) Validated(Neurons, neurons);
        var selection = new NeuronSelection(layers, neurons, sample, unchecked((int)seed));
        return new LlmCommandSettings(baseUrl, run, resilience, budget, prices, cache, selection);
    }

    private static readonly string[] SimulatorModes = Enum.GetValues<SimulatorMode>().Select(ModeName).ToArray();

    private static string ModeName(SimulatorMode mode) => mode.ToString().ToLowerInvariant();

    private Option<T> Default<T>(Option<T> option, T value)
    {
        option.DefaultValueFactory = _ => value;
        _defaults[option] = value;
        return option;
    }

    /// <summary>Runs an option's validators on a value from the config file (so the file is held to the same rules).</summary>
    private T Validated<T>(Option<T> option, T value)
    {
        var probe = new Option<T>(option.Name);
        foreach (var validator in option.Validators) probe.Validators.Add(validator);
        var result = new RootCommand { probe }.Parse([option.Name, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!]);
        if (result.Errors.Count > 0) throw new InvalidDataException($"--config {_configPath}: {result.Errors[0].Message}");
        return value;
    }

    private string? _configPath;

    private static Option<string?> IndexSet(string name, string description)
    {
        var o = new Option<string?>(name) { Description = description, DefaultValueFactory = _ => "all" };
        o.Validators.Add(v =>
        {
            try { if (CommonOptions.TryGet(v, out string? text)) LayerSelection.ParseIndexSet(text, name); }
            catch (ArgumentException e) { v.AddError(e.Message); }
        });
        return o;
    }

    private static Option<int> Between(Option<int> o, int min, int max)
    {
        o.Validators.Add(v => { if (CommonOptions.TryGet(v, out int x) && (x < min || x > max)) v.AddError($"{o.Name} {x}: must be within {min}..{max}"); });
        return o;
    }

    private static Option<double> Positive(Option<double> o)
    {
        o.Validators.Add(v => { if (CommonOptions.TryGet(v, out double x) && !(x > 0)) v.AddError($"{o.Name} {x}: must be positive"); });
        return o;
    }

    private static Option<double> NotNegativeNumber(Option<double> o)
    {
        o.Validators.Add(v => { if (CommonOptions.TryGet(v, out double x) && !(x >= 0)) v.AddError($"{o.Name} {x}: must not be negative"); });
        return o;
    }

    /// <summary>
    /// The --config JSON object, keys normalised to option names ("base_url" → "--base-url"). Not
    /// Microsoft.Extensions.Configuration's binder: the file is one flat object of the command's own option names, and
    /// what matters is refusing what the binder would silently accept or drop — an API key, an unknown or misspelt key,
    /// a string where a number belongs, a value an option's validator rejects — each in one `error:` line naming the
    /// file and the key (docs/cli.md's catalogue pins them). That is these 40 lines over System.Text.Json; a binder
    /// would add a package and still need them.
    /// </summary>
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
