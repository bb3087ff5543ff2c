using System.Diagnostics;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// Runs the built `engine` as a separate process (for kills and exit codes). Each process gets its own, fresh cache
/// directory (ENGINE_CACHE, removed afterwards) unless the caller passes one, so no test reads or writes the user's
/// ~/.cache/neuron-engine and every run sees what a new user sees. It starts the `engine` apphost beside the test
/// assembly rather than `dotnet engine.dll`: in the self-contained GPU bundle there is no `dotnet` to start, and the
/// apphost finds the runtime in both layouts.
/// </summary>
public static class EngineProcess
{
    public static string AppHost { get; } = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "engine.exe" : "engine");

    public static (int ExitCode, string StdOut, string StdErr) Run(IDictionary<string, string>? environment, params string[] args)
    {
        if (!File.Exists(AppHost)) throw new FileNotFoundException($"the engine executable is not beside the tests: {AppHost}");
        using var cache = new TempDir();
        var psi = new ProcessStartInfo(AppHost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["ENGINE_CACHE"] = cache.Path;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); throw new TimeoutException("engine did not finish in 3 minutes"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
