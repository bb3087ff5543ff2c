using System.CommandLine;
using System.CommandLine.Parsing;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Kernels;
using NeuronEngine.Forward;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// The options commands share (docs/design.md §6), made in one place so that one name has one meaning, one description and
/// one check everywhere. Values are checked while parsing (validators), so a bad value is a parse error: exit code 2,
/// one `error:` line and one hint line, before anything is opened or written. Renamed options keep their old name as
/// a hidden alias that warns (<see cref="Deprecated{T}"/>).
/// </summary>
public static class CommonOptions
{
    public static readonly string[] Devices = DeviceSelection.Names;
    public static readonly string[] DumpDTypes = ["f32", "f16"];
    public static readonly string[] RecordLayouts = ["openai", "packed"];

    public static Option<string?> Model() => new("--model") { Description = "directory with model.safetensors (+ config.json), or the .safetensors file" };

    public static Option<string?> Preset() => OneOf(new Option<string?>("--preset")
    {
        Description = "synthetic (seeded random) weights of a GPT-2 shape, generated once into the cache",
    }, [.. Gpt2Config.Presets.Keys]);

    /// <summary>The seed of synthetic weights (with --preset or no --model). Not to be confused with <see cref="Seed"/>.</summary>
    public static Option<int> ModelSeed() => new("--model-seed") { Description = "seed of the synthetic weights (with --preset, or no --model)", DefaultValueFactory = _ => 0 };

    /// <summary>The seed of a command's random sampling (records' samples, bench's tokens, --sample's draw). Never the weights.</summary>
    public static Option<ulong> Seed(string what) => new("--seed") { Description = $"seed of {what}", DefaultValueFactory = _ => 0 };

    public static Option<string?> Corpus() => new("--corpus") { Description = ".txt, .jsonl (a \"text\" field per line) or llm.c .bin token file; default: the bundled sample text" };

    public static Option<string> Layers()
    {
        var o = new Option<string>("--layers") { Description = "all, or indices and ranges such as 0,3,5-7", DefaultValueFactory = _ => "all" };
        o.Validators.Add(r => { if (TryGet(r, out string? v)) Check(r, () => LayerSelection.ParseIndexSet(v, "--layers", "a layer index")); });
        return o;
    }

    public static Option<int> SeqLen() => AtLeast(new Option<int>("--seq-len") { Description = "tokens per window", DefaultValueFactory = _ => 64 }, 1);

    public static Option<string> Device() => OneOf(new Option<string>("--device") { Description = "compute device", DefaultValueFactory = _ => "auto" }, Devices);

    public static Option<long?> MaxWindows() => AtLeast(new Option<long?>("--max-windows") { Description = "use at most this many windows of the corpus" }, 1);

    public static Option<int?> Batch() => AtLeast(new Option<int?>("--batch") { Description = "windows per forward batch (default: the device's choice)" }, 1);

    public static readonly string[] Precisions = ["fp32", "tf32", "bf16"];

    public static Option<string> Precision() => OneOf(new Option<string>("--precision")
    {
        Description = "GEMM precision: fp32 (the reference), tf32 or bf16 (tensor cores on CUDA sm_80+; emulated on cpu and ilgpu-cpu); see docs/precision.md",
        DefaultValueFactory = _ => "fp32",
    }, Precisions);

    /// <summary>The value of <see cref="Precision"/> as the engine's enum (validated at parse time).</summary>
    public static MatMulPrecision ParsePrecision(string text) => MatMulPrecisions.Parse(text, "--precision");

    /// <summary>`--top-k`: top windows per neuron by window maximum (records; precision-effect compares them), default as records.</summary>
    public static Option<int> TopK(string description) =>
        new("--top-k") { Description = description, DefaultValueFactory = _ => Records.RecordsSettings.DefaultTopK };

    public static Option<int> WindowsPerShard(string description = "windows in each shard file") =>
        AtLeast(new Option<int>("--windows-per-shard") { Description = description, DefaultValueFactory = _ => 256 }, 1);

    public static Option<string> DumpDType(string name = "--dtype", string description = "storage dtype of the activations") =>
        OneOf(new Option<string>(name) { Description = description, DefaultValueFactory = _ => "f32" }, DumpDTypes);

    public static Option<string> RecordsFormat(string description) =>
        OneOf(new Option<string>("--format") { Description = description, DefaultValueFactory = _ => "openai" }, RecordLayouts);

    /// <summary>
    /// The output directory every writing command takes. <see cref="CommandRunner"/> creates, checks and locks every
    /// output option of the command being run (<see cref="IsOutput"/>) before its action starts, so a command made with
    /// these options needs no code of its own for it.
    /// </summary>
    public static Option<string> Out(string description = "output directory") =>
        Output(new Option<string>("--out") { Description = description, Required = true });

    /// <summary>A further output directory (e.g. records' --dump-out), created and locked like --out when given.</summary>
    public static Option<string?> OptionalOutput(string name, string description) =>
        Output(new Option<string?>(name) { Description = description });

    private static T Output<T>(T option) where T : Option
    {
        option.Validators.Add(r => { if (TryGet(r, out string? v) && v is not null && string.IsNullOrWhiteSpace(v)) r.AddError($"{option.Name}: empty path"); });
        OutputMarks.AddOrUpdate(option, OutputMark);
        return option;
    }

    private static readonly object OutputMark = new();
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Option, object> OutputMarks = [];

    /// <summary>Whether an option names an output directory (made by <see cref="Out"/> or <see cref="OptionalOutput"/>).</summary>
    public static bool IsOutput(Option option) => OutputMarks.TryGetValue(option, out _);

    /// <summary>
    /// Simulation results in OpenAI's layout ({layer}/{neuron}.jsonl, NeuronSimulationResults: OpenAI's "explanations"
    /// folders), read by `score`. What `explain` writes is <see cref="ExplainerOutput"/>.
    /// </summary>
    public static Option<string> Explanations() => new("--explanations")
    {
        Description = "scored simulations in OpenAI's layout: {layer}/{neuron}.jsonl (NeuronSimulationResults, e.g. OUT/explanations of simulate or run)",
        Required = true,
    };

    /// <summary>What `engine explain` wrote ({layer}/{neuron}.json), read by `simulate` (`run` keeps it in OUT/explainer).</summary>
    public static Option<string> ExplainerOutput() => new("--explainer-output")
    {
        Description = "the output directory of engine explain: {layer}/{neuron}.json (in engine run: OUT/explainer) (REQUIRED)",
    };

    /// <summary>
    /// A hidden old name of a renamed option: still accepted, with a warning naming the new one. Read it with
    /// <see cref="ValueOrDeprecated{T}"/>.
    /// </summary>
    public static Option<T?> Deprecated<T>(string oldName) => new(oldName) { Hidden = true };

    /// <summary>The option's value, or the deprecated alias's when only that was given (saying so on stderr).</summary>
    public static T ValueOrDeprecated<T>(ParseResult r, Option<T> option, Option<T?> alias, string command)
    {
        if (r.GetResult(alias) is not { Implicit: false } || r.GetResult(option) is { Implicit: false }) return r.GetValue(option)!;
        Console.Error.WriteLine($"warning: `{command} {alias.Name}` is now `{option.Name}`; the old name will go away");
        return r.GetValue(alias)!;
    }

    /// <summary>Adds a parse-time check that the value is one of <paramref name="values"/> (shown in help as a|b|c).</summary>
    public static Option<T> OneOf<T>(Option<T> option, string[] values)
    {
        option.HelpName = string.Join('|', values);
        option.CompletionSources.Add(values);
        option.Validators.Add(r =>
        {
            if (TryGet(r, out T? value) && value is string v && !values.Contains(v))
                r.AddError($"{option.Name}: '{v}' is not one of {string.Join(", ", values)}");
        });
        return option;
    }

    /// <summary>Adds a parse-time check that a number is at least <paramref name="min"/>.</summary>
    public static Option<T> AtLeast<T>(Option<T> option, long min)
    {
        option.Validators.Add(r =>
        {
            if (TryGet(r, out T? v) && v is not null && Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture) < min)
                r.AddError($"{option.Name} {v}: must be at least {min}");
        });
        return option;
    }

    /// <summary>Adds a parse-time check that a number is at most <paramref name="max"/>.</summary>
    public static Option<T> AtMost<T>(Option<T> option, long max)
    {
        option.Validators.Add(r =>
        {
            if (TryGet(r, out T? v) && v is not null && Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture) > max)
                r.AddError($"{option.Name} {v}: must be at most {max}");
        });
        return option;
    }

    /// <summary>Adds a parse-time check that a number is not negative.</summary>
    public static Option<T> NotNegative<T>(Option<T> option) => AtLeast(option, 0);

    /// <summary>
    /// The value for a validator, or false when it does not convert (e.g. "x" for a number): that error is already
    /// reported, and GetValueOrDefault would throw.
    /// </summary>
    public static bool TryGet<T>(OptionResult r, out T? value)
    {
        try
        {
            value = r.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default;
            return false;
        }
    }

    private static void Check(OptionResult r, Action parse)
    {
        try { parse(); }
        catch (ArgumentException e) { r.AddError(e.Message); }
    }
}
