using System.Runtime.CompilerServices;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// The engine's cache (synthetic weights, the bundled sample text, the LLM call cache) for this test run: unless
/// ENGINE_CACHE names one deliberately (scripts/gpu-run.sh shares its scratch cache with the CUDA tests), a fresh folder
/// in the temp directory, removed when the run ends — so no test reads or writes the user's ~/.cache/neuron-engine, and
/// a run on a machine that has one behaves as on a fresh machine. Set before any test (or the engine code it calls)
/// reads the variable; engine processes inherit it, and <see cref="EngineProcess"/> gives each its own.
/// </summary>
internal static class TestRunCache
{
    [ModuleInitializer]
    internal static void UseAPrivateCache()
    {
        if (Environment.GetEnvironmentVariable("ENGINE_CACHE") is { Length: > 0 }) return;
        string dir = Directory.CreateTempSubdirectory("engine-test-cache-").FullName;
        Environment.SetEnvironmentVariable("ENGINE_CACHE", dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
    }
}
