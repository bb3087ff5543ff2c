using NeuronEngine.Model;
using NeuronEngine.Tests.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.OpenCl;

/// <summary>
/// The engine on a real OpenCL driver (pocl in CI: scripts/opencl-tests.sh): what `engine info` says of the device, and
/// the whole forward pass in each weight format against the `cpu` device (1e-4 absolute, as on the CPU accelerator).
/// </summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public class OpenClDeviceTests
{
    /// <summary>`engine info` names the device with its sub-group size, fp16 support and how group sums run there.</summary>
    [Fact]
    public void InfoNamesTheDeviceItsSubGroupAndFp16()
    {
        OpenClDevice.Require();
        var (code, stdout, stderr) = EngineProcess.Run(null, "info", "--preset", "gpt2");
        Assert.True(code == 0, stderr);
        var line = stdout.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("opencl") && !l.Contains("refused"));
        Assert.Matches(@"sub-group \d+, fp16 (yes|no), group sums (by warp shuffles|through shared memory)", line);
    }

    /// <summary>tf32/bf16 need CUDA's tensor cores: on OpenCL one clear line and exit 2, not a crash or a silent fp32 run.</summary>
    [Fact]
    public void TensorCorePrecisionsAreRefusedWithTheReason()
    {
        OpenClDevice.Require();
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, new Gpt2Config(1, 2, 16, 16, 50), new(Seed: 1));
        var (code, _, stderr) = EngineProcess.Run(null, "bench", "--model", dir.Path, "--device", "opencl",
            "--precision", "tf32", "--batch", "1", "--seq-len", "4", "--iterations", "1");
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", stderr.Trim());
        Assert.Contains("OpenCL has no tensor-core GEMM", stderr);
    }

    [Theory]
    [InlineData(36, 3, 7, "F32", false)]
    [InlineData(20, 4, 1, "F16", true)]
    [InlineData(44, 2, 33, "BF16", false)]
    public void ForwardPassMatchesTheCpuDevice(int d, int heads, int seqLen, string dtype, bool prefix)
    {
        OpenClDevice.Require();
        IlgpuForwardTests.CheckAgainstTheCpuDevice("opencl", d, heads, seqLen, dtype, prefix);
    }
}
