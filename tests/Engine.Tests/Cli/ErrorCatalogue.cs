using System.Diagnostics;
using System.Text.RegularExpressions;
using NeuronEngine.Cli;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Tests.Explain;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;

namespace NeuronEngine.Tests.Cli;

/// <summary>
/// One mistake a user can make (or one way a run ends) and exactly what `engine` must answer: the exit code and the
/// whole of stderr, line by line. In <see cref="Args"/>, <see cref="StdErr"/> and <see cref="Setup"/> paths are written
/// with placeholders that <see cref="CatalogueContext.Expand"/> fills in ({model}, {corpus}, {out}, {case}, {dir} …);
/// in <see cref="StdErr"/> also {size} (e.g. "1.2 MB"), {n} (a number), {any} (anything) and {commands}.
/// </summary>
public sealed record CatalogueCase(string Group, string Name, string[] Args, int ExitCode, params string[] StdErr)
{
    /// <summary>Makes the inputs of this case under {case} before the engine runs.</summary>
    public Action<CatalogueContext>? Setup { get; init; }
    /// <summary>More checks after the run (files written or not).</summary>
    public Action<CatalogueContext>? Then { get; init; }
    public Dictionary<string, string>? Environment { get; init; }
    /// <summary>Cases that mount a tmpfs (full disk, read-only): skipped with the reason where the test is not root.</summary>
    public bool NeedsRoot { get; init; }
    /// <summary>Cases against the fixture's scripted LLM server ({server}).</summary>
    public bool NeedsServer { get; init; }
    /// <summary>Runs the engine some other way than once to the end (a held lock, Ctrl+C); returns what it answered.</summary>
    public Func<CatalogueContext, (int ExitCode, string StdOut, string StdErr)>? Run { get; init; }

    public override string ToString() => Name;
}

/// <summary>
/// What a case sees: the shared fixture and its own folder. Disposing it ends every process the case started that is
/// still running (a lock holder whose Then never ran because an assertion failed first), so no case leaves one behind.
/// </summary>
public sealed class CatalogueContext(CatalogueFixture fixture, CatalogueCase c) : IDisposable
{
    private readonly List<Process> _started = [];

    public CatalogueFixture Fixture => fixture;
    public CatalogueCase Case => c;
    /// <summary>This case's own folder (fresh).</summary>
    public string Dir { get; } = fixture.Dir[Path.Combine("cases", c.Name)];
    public string Out => Path.Combine(Dir, "out");
    /// <summary>Anything a Setup hands to its Then (e.g. a process holding the output).</summary>
    public Dictionary<string, object> State { get; } = [];
    public string this[string relative] => Path.Combine(Dir, relative);

    public string Expand(string text) => text
        .Replace("{model}", fixture.Model).Replace("{corpus}", fixture.Corpus).Replace("{records}", fixture.Records)
        .Replace("{out}", Out).Replace("{case}", Dir).Replace("{dir}", fixture.Dir.Path)
        .Replace("{ro}", fixture.ReadOnlyMount ?? "{ro}").Replace("{cache}", this["cache"])
        .Replace("{server}", fixture.ServerUrl ?? "{server}");

    /// <summary>An expected stderr line as a regex: placeholders filled in, the rest literal.</summary>
    public Regex Pattern(string expected)
    {
        string literal = Regex.Escape(Expand(expected).Replace("{commands}", CatalogueFixture.Commands));
        literal = literal.Replace(@"\{size}", @"[0-9.]+ (GB|MB|kB|bytes)").Replace(@"\{n}", "[0-9,]+").Replace(@"\{any}", ".*");
        return new Regex("^" + literal + "$", RegexOptions.CultureInvariant);
    }

    /// <summary>Runs `engine` with this case's environment: its own cache, no progress lines, no ambient endpoint.</summary>
    public (int ExitCode, string StdOut, string StdErr) Engine(params string[] args) =>
        EngineProcess.Run(Environment(), [.. args.Select(Expand)]);

    public Dictionary<string, string> Environment()
    {
        var env = new Dictionary<string, string>
        {
            ["ENGINE_CACHE"] = this["cache"],
            [ConsoleProgress.IntervalVariable] = "0",
            ["ENGINE_BASE_URL"] = "",
            ["ENGINE_API_KEY"] = "sk-catalogue-test",
        };
        foreach (var (k, v) in c.Environment ?? []) env[k] = Expand(v);
        return env;
    }

    /// <summary>Starts `engine` without waiting (for the lock and cancellation cases), with more environment variables.</summary>
    public Process StartWith(Dictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo(EngineProcess.AppHost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(Expand(a));
        foreach (var (k, v) in Environment().Concat(environment)) psi.Environment[k] = v;
        var p = Process.Start(psi)!;
        _started.Add(p);
        return p;
    }

    public void Dispose()
    {
        foreach (var p in _started)
        {
            try
            {
                if (!p.HasExited) { p.Kill(entireProcessTree: true); p.WaitForExit(TimeSpan.FromSeconds(30)); }
            }
            catch (InvalidOperationException) { } // it ended between the check and the kill
            p.Dispose();
        }
        _started.Clear();
    }

    public string Write(string relative, string text)
    {
        string path = this[relative];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public string WriteBytes(string relative, byte[] bytes)
    {
        string path = this[relative];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A copy of the fixture's model under {case}/name, with its safetensors bytes changed by <paramref name="damage"/>.</summary>
    public string DamagedModel(string name, Func<byte[], byte[]> damage, string? configJson = null)
    {
        string dir = this[name];
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), damage(File.ReadAllBytes(Path.Combine(fixture.Model, "model.safetensors"))));
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson ?? File.ReadAllText(Path.Combine(fixture.Model, "config.json")));
        return dir;
    }

    /// <summary>A model whose safetensors header is rewritten (tensors kept byte for byte).</summary>
    public string ModelWithHeader(string name, Func<string, string> edit) => DamagedModel(name, bytes =>
    {
        long n = BitConverter.ToInt64(bytes, 0);
        string header = edit(System.Text.Encoding.UTF8.GetString(bytes, 8, (int)n));
        var h = System.Text.Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((long)h.Length), .. h, .. bytes.AsSpan(8 + (int)n)];
    });

    /// <summary>Writes a value over element <paramref name="index"/> of a tensor of a model copy.</summary>
    public string ModelWithValue(string name, string tensor, long index, float value, TensorDType dtype = TensorDType.F32)
    {
        string dir = this[name];
        if (dtype == TensorDType.F32) DamagedModel(name, b => b);
        else
        {
            Directory.CreateDirectory(dir);
            SyntheticGpt2.Write(dir, fixture.Config, new(Seed: 3, DType: dtype));
        }
        string file = Path.Combine(dir, "model.safetensors");
        long offset;
        using (var st = SafeTensorsFile.Open(file)) offset = st.DataOffset + st.Get(tensor).Begin + index * TensorDTypes.SizeOf(dtype);
        using var fs = new FileStream(file, FileMode.Open, FileAccess.Write);
        fs.Position = offset;
        fs.Write(dtype == TensorDType.F32 ? BitConverter.GetBytes(value) : BitConverter.GetBytes((Half)value));
        return dir;
    }
}

/// <summary>
/// The shared inputs of the catalogue, made by the test: a tiny GPT-2 (2 layers, d_model 32), a small corpus, neuron
/// records in OpenAI's layout, and on demand a scripted LLM server and tmpfs mounts (root only).
/// </summary>
public sealed class CatalogueFixture : IDisposable
{
    public TempDir Dir { get; } = new();
    public Gpt2Config Config { get; } = new(2, 2, 32, 64, Gpt2Tokenizer.VocabSize);
    public string Model { get; }
    public string Corpus { get; }
    public string Records { get; }

    /// <summary>The commands as `engine` lists them (so new commands do not change the expected lines).</summary>
    public static string Commands { get; } = string.Join(", ", EngineCli.Build().Subcommands.Where(c => !c.Hidden).Select(c => c.Name));

    private readonly Lock _gate = new();
    private FakeLlmServer? _server;
    private readonly List<string> _mounts = [];
    private string? _readOnly;

    public CatalogueFixture()
    {
        Model = Dir["model"];
        SyntheticGpt2.Write(Model, Config, new(Seed: 3, DType: TensorDType.F32));
        Corpus = Dir.WriteText("corpus.txt", string.Join(" ", Enumerable.Range(0, 40).Select(i => $"Line {i}: {i % 5} herons watched {i * 3} boats.")));
        Records = FakeNeuronModel.WriteRecords(Dir["records"], (0, 1), (0, 2));
    }

    /// <summary>The scripted server's base URL ({server}); its replies follow <see cref="Script"/>.</summary>
    public string? ServerUrl => _server?.BaseUrl;

    /// <summary>The current script of the server (cases that need another set it in their Setup; cases run one at a time per class).</summary>
    public Func<FakeLlmRequest, FakeLlmReply> Script { get; set; } = FakeNeuronModel.Reply;

    public void EnsureServer()
    {
        lock (_gate)
        {
            if (_server is not null) return;
            _server = FakeLlmServer.StartAsync().GetAwaiter().GetResult();
            _server.Script = r => Script(r);
        }
    }

    /// <summary>Why tmpfs cases cannot run here, or null.</summary>
    public static string? RootSkipReason =>
        !OperatingSystem.IsLinux() ? "tmpfs mounts need Linux"
        : !Environment.IsPrivilegedProcess ? "mounting a small or read-only tmpfs needs root (CI runs the tests as root)"
        : null;

    /// <summary>Mounts a tmpfs of <paramref name="size"/> (e.g. "1m") at a fresh folder; returns its path, or null with the reason.</summary>
    public string? Mount(string name, string size, out string? reason)
    {
        reason = RootSkipReason;
        if (reason is not null) return null;
        string path = Dir[Path.Combine("mounts", name)];
        Directory.CreateDirectory(path);
        if (!Run("mount", ["-t", "tmpfs", "-o", $"size={size}", "tmpfs", path], out reason)) return null;
        lock (_gate) _mounts.Add(path);
        return path;
    }

    /// <summary>A read-only tmpfs ({ro}) holding an empty folder "existing"; null (with <see cref="ReadOnlyReason"/>) where it cannot be made.</summary>
    public string? ReadOnlyMount
    {
        get
        {
            lock (_gate)
            {
                if (_readOnly is not null || ReadOnlyReason is not null) return _readOnly;
                if (Mount("read-only", "1m", out string? reason) is not { } path) { ReadOnlyReason = reason; return null; }
                Directory.CreateDirectory(Path.Combine(path, "existing"));
                if (!Run("mount", ["-o", "remount,ro", "tmpfs", path], out reason)) { ReadOnlyReason = reason; return null; }
                return _readOnly = path;
            }
        }
    }

    public string? ReadOnlyReason { get; private set; }

    public static bool Run(string file, string[] args, out string? error)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            error = p.ExitCode == 0 ? null : $"{file} {string.Join(' ', args)} failed: {stderr.Trim()}";
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            error = $"cannot run {file}: {e.Message}";
            return false;
        }
    }

    public void Dispose()
    {
        if (_server is not null) _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        foreach (var m in Enumerable.Reverse(_mounts)) Run("umount", ["-l", m], out _);
        Dir.Dispose();
    }
}
