using System.Diagnostics;
using System.Text.Json.Nodes;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Runtime;

/// <summary>
/// scripts/ptx-report.sh's reading of `ptxas -v` (scripts/lib/ptx_report.py, beside the test assembly as
/// scripts/ptx_report.py) on outputs of both formats of its "Used …" line (Runtime/ptxas/): 11.8 and 12.4 captured
/// here from our kernels, and the newer "…, used N barriers, X bytes smem" one, which the old pattern read as 0 bytes
/// of shared memory. Expected values are read off the fixture text by hand.
/// </summary>
public class PtxasOutputTests
{
    [Theory]
    //           fixture                          entry                registers smem  barriers stack spill st/ld
    [InlineData("ptxas-11.8-gemm-tile128.txt", "Kernel_Gemm", 122, 33280, null, 0, 0, 0)]
    [InlineData("ptxas-12.4-layernorm.txt", "Kernel_Forward", 32, 512, null, 0, 0, 0)]
    [InlineData("ptxas-12.4-add-in-place.txt", "Kernel_AddInPlace", 10, 0, null, 0, 0, 0)]
    [InlineData("ptxas-newer-gemm-tile128.txt", "Kernel_Gemm", 122, 33280, 1, 0, 0, 0)]
    [InlineData("ptxas-newer-with-callee.txt", "Kernel_Scatter", 255, 0, 0, 24, 8, 4)]
    public void ReadsBothFormats(string fixture, string entry, int registers, int smem, int? barriers, int stack, int spillStores, int spillLoads)
    {
        var (exit, stdout, stderr) = PtxasInfo(fixture);
        Assert.True(exit == 0, stderr);
        var info = JsonNode.Parse(stdout)!;
        Assert.Equal(entry, (string)info["entry"]!);
        Assert.Equal(registers, (int)info["regs"]!);
        Assert.Equal(smem, (int)info["smem"]!);
        Assert.Equal(barriers, (int?)info["barriers"]);
        Assert.Equal(stack, (int)info["stack"]!);
        Assert.Equal(spillStores, (int)info["spill_st"]!);
        Assert.Equal(spillLoads, (int)info["spill_ld"]!);
        Assert.Empty(info["unread"]!.AsArray());
    }

    [Fact]
    public void TheSameKernelReadsTheSameInBothFormats()
    {
        var old = JsonNode.Parse(PtxasInfo("ptxas-11.8-gemm-tile128.txt").StdOut)!.AsObject();
        var newer = JsonNode.Parse(PtxasInfo("ptxas-newer-gemm-tile128.txt").StdOut)!.AsObject();
        foreach (var key in new[] { "entry", "regs", "smem", "stack", "spill_st", "spill_ld" })
            Assert.Equal(old[key]!.ToJsonString(), newer[key]!.ToJsonString());
    }

    [Fact]
    public void AnOutputWithoutItsUsedLineFailsLoudly()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("truncated.txt", """
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'Kernel_Gemm' for 'sm_90'
            """);
        var (exit, _, stderr) = Run(path);
        Assert.NotEqual(0, exit);
        Assert.Contains("no 'Used N registers' line for Kernel_Gemm", stderr);
    }

    [Fact]
    public void AFieldItDoesNotKnowIsListedNotDropped()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("future.txt", """
            ptxas info    : Compiling entry function 'Kernel_Gemm' for 'sm_90'
            ptxas info    : Used 64 registers, used 2 barriers, 4 named barriers, 1024 bytes smem
            """);
        var (exit, stdout, stderr) = Run(path);
        Assert.True(exit == 0, stderr);
        var info = JsonNode.Parse(stdout)!;
        Assert.Equal(1024, (int)info["smem"]!);
        Assert.Equal(["4 named barriers"], info["unread"]!.AsArray().Select(x => (string)x!));
    }

    private static (int ExitCode, string StdOut, string StdErr) PtxasInfo(string fixture) =>
        Run(Path.Combine(AppContext.BaseDirectory, "Runtime", "ptxas", fixture));

    private static (int ExitCode, string StdOut, string StdErr) Run(string ptxasOutput)
    {
        string? python = RequiredTool.OnPath("python3");
        if (python is null) RequiredTool.Missing("python3", "python3 is not on PATH: scripts/lib/ptx_report.py cannot run here");
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "scripts", "ptx_report.py"), "ptxas-info", ptxasOutput },
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) { p.Kill(true); throw new TimeoutException("ptx_report.py did not finish in 60 s"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
