using System.Diagnostics;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Runtime;

/// <summary>
/// `engine info` and `--device cuda` must say why CUDA was not found (ILGPU's own enumeration swallows the cause).
/// A stub libcuda.so.1, compiled here with the system C compiler and put first on LD_LIBRARY_PATH of an `engine`
/// process, plays each failure: a driver whose cuInit fails, a driver with no devices, and a device ILGPU cannot read.
/// </summary>
public class CudaDriverProbeTests
{
    private const string Stub = """
        #include <stdlib.h>
        #include <string.h>
        static int env(const char* n, int d) { const char* v = getenv(n); return v ? atoi(v) : d; }
        int cuInit(unsigned flags) { return env("STUB_CUINIT", 0); }
        int cuDriverGetVersion(int* v) { *v = 13000; return 0; }
        int cuDeviceGetCount(int* c) { *c = env("STUB_COUNT", 0); return 0; }
        int cuGetErrorName(int e, const char** s) { *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN"; return 0; }
        int cuDeviceGet(int* d, int ordinal) { *d = ordinal; return 0; }
        int cuDeviceGetName(char* name, int length, int d) { strncpy(name, "Stub GPU", length); return 0; }
        int cuDeviceGetAttribute(int* v, int attribute, int d) { *v = attribute == 75 ? 9 : 0; return 0; }
        """;

    [Fact]
    public void WithoutADriverLibraryItSaysSo()
    {
        if (CudaAvailability.IsPresent) Assert.Skip("this machine has a CUDA device: there is no missing driver to explain");
        var (rc, stdout, _) = EngineProcess.Run(new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = "/nonexistent" }, "info", "--preset", "gpt2");
        Assert.Equal(0, rc);
        Assert.Contains("cuda       none found: the NVIDIA driver library (libcuda.so.1 / libcuda.so) is not installed", stdout);
    }

    [Theory]
    [InlineData("100", "0", "driver CUDA 13.0: cuInit failed with CUDA_ERROR_NO_DEVICE (100)")]
    [InlineData("0", "0", "driver CUDA 13.0: the driver reports no CUDA devices")]
    [InlineData("0", "1", "driver CUDA 13.0, 1 device(s): Stub GPU (sm_90); ILGPU could not read device 0: EntryPointNotFoundException")]
    public void AStubDriverGetsItsFailureNamed(string cuInit, string devices, string expected)
    {
        using var dir = new TempDir();
        string? compiler = RequiredTool.OnPath("cc", "gcc", "clang");
        if (compiler is null) RequiredTool.Missing("cc", "no C compiler (cc, gcc or clang) on PATH to build the stub driver");
        File.WriteAllText(dir["stub.c"], Stub);
        using (var cc = Process.Start(new ProcessStartInfo(compiler, ["-shared", "-fPIC", "-o", dir["libcuda.so.1"], dir["stub.c"]])
               { RedirectStandardError = true })!)
        {
            string errors = cc.StandardError.ReadToEnd();
            cc.WaitForExit();
            Assert.True(cc.ExitCode == 0, errors);
        }
        var env = new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = dir.Path, ["STUB_CUINIT"] = cuInit, ["STUB_COUNT"] = devices };

        var (rc, stdout, stderr) = EngineProcess.Run(env, "info", "--preset", "gpt2");
        Assert.True(rc == 0, stderr);
        Assert.Contains($"cuda       none found: {expected}", stdout);

        // One device selection for every command that computes: the forward pass, related tokens and scoring say the same.
        foreach (string[] command in new[]
        {
            new[] { "bench", "--preset", "gpt2" },
            ["related", "--preset", "gpt2", "--out", dir["related"]],
            ["score", "--explanations", dir.Path, "--out", dir["scores"]],
        })
        {
            (rc, _, stderr) = EngineProcess.Run(env, [.. command, "--device", "cuda"]);
            Assert.Equal(2, rc);
            Assert.StartsWith($"error: --device cuda: no CUDA device found: {expected}", stderr);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }
}
