namespace NeuronEngine.Tests.Support;

/// <summary>
/// Tests that need something a machine may lack (Chromium, Slurm, python3, a tmpfs mount) skip with the reason — never a
/// silent return, never a crash — unless the environment says the tool must be there (`ENGINE_REQUIRE_CHROMIUM=1`,
/// `ENGINE_REQUIRE_SLURM=1`, …; .ci/run sets them), where its absence fails the test instead. An OpenCL device is such a
/// tool (<see cref="OpenClDevice"/>, ENGINE_REQUIRE_OPENCL=1 inside the pocl chroot of scripts/opencl-tests.sh, which
/// .ci/run also runs with it, so a machine where that chroot cannot be built fails CI). CUDA is the exception: its
/// tests carry <see cref="CudaFactAttribute"/> and skip wherever there is no GPU.
/// </summary>
public static class RequiredTool
{
    /// <summary>The variable that makes <paramref name="tool"/> required, e.g. ENGINE_REQUIRE_CHROMIUM.</summary>
    public static string Variable(string tool) => $"ENGINE_REQUIRE_{tool.ToUpperInvariant()}";

    public static bool IsRequired(string tool) => Environment.GetEnvironmentVariable(Variable(tool)) == "1";

    /// <summary>Skips the running test with <paramref name="reason"/>, or fails it where <paramref name="tool"/> is required.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Missing(string tool, string reason)
    {
        if (IsRequired(tool)) Assert.Fail($"{Variable(tool)}=1, but {reason}");
        Assert.Skip(reason);
    }

    /// <summary>
    /// The first of <paramref name="names"/> found as an executable file on PATH, or null. Only PATH is searched, so a run
    /// with a PATH that leaves a tool out (the newcomer run in .ci/run) sees the machine as a newcomer's would.
    /// </summary>
    public static string? OnPath(params string[] names) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(dir => names.Select(n => Path.Combine(dir, n)))
            .FirstOrDefault(File.Exists);
}
