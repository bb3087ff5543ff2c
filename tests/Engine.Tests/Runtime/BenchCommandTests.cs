using System.Text.Json.Nodes;
using NeuronEngine.Model;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Runtime;

public class BenchCommandTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void JsonReportHasThroughputAndEveryComputedLayer(string device)
    {
        using var dir = new TempDir();
        var config = new Gpt2Config(3, 2, 32, 16, 100);
        SyntheticGpt2.Write(dir.Path, config);
        var r = EngineProcess.Run(null, "bench", "--model", dir.Path, "--device", device, "--batch", "2", "--seq-len", "8",
            "--layers", "0,1", "--iterations", "1", "--warmup", "1", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var report = JsonNode.Parse(r.StdOut)!;
        Assert.Equal(device, (string)report["device"]!);
        Assert.True((double)report["tokens_per_second"]! > 0);
        Assert.True((double)report["gflops"]! > 0);
        var layers = report["layers"]!.AsArray();
        Assert.Equal([0, 1], layers.Select(l => (int)l!["layer"]!));
        Assert.All(layers, l => Assert.True((double)l!["ms"]! > 0));
        Assert.Null(report["percent_of_peak"]); // no published peak for a CPU
    }

    [Fact]
    public void TableNamesTheDeviceAndTokensPerSecond()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, new Gpt2Config(1, 2, 16, 16, 50));
        var r = EngineProcess.Run(null, "bench", "--model", dir.Path, "--device", "cpu", "--batch", "1", "--seq-len", "4", "--iterations", "1");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("on cpu", r.StdOut);
        Assert.Contains("tokens/s:", r.StdOut);
    }
}
