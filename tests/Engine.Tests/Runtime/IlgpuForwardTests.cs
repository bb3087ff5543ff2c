using NeuronEngine.Cpu;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Cpu;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Runtime;

/// <summary>
/// The whole forward pass as ILGPU kernels on ILGPU's CPU accelerator against the `cpu` device, on synthetic
/// models. Tolerance: 1e-4 absolute on every activation (the bound; the kernels sum in another order).
/// </summary>
public class IlgpuForwardTests
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData(36, 3, 7, "F32", false)]
    [InlineData(20, 4, 1, "F16", true)]
    [InlineData(44, 2, 33, "BF16", false)]
    public void MatchesTheCpuDevice(int d, int heads, int seqLen, string dtype, bool prefix) =>
        CheckAgainstTheCpuDevice("ilgpu-cpu", d, heads, seqLen, dtype, prefix);

    /// <summary>Two layers of a synthetic model on <paramref name="deviceName"/> against `cpu`, 1e-4 absolute.</summary>
    internal static void CheckAgainstTheCpuDevice(string deviceName, int d, int heads, int seqLen, string dtype, bool prefix)
    {
        using var dir = new TempDir();
        var config = new Gpt2Config(2, heads, d, 40, 97);
        SyntheticGpt2.Write(dir.Path, config, new(Seed: d * 3 + seqLen, DType: Enum.Parse<TensorDType>(dtype), TransformerPrefix: prefix));
        using var weights = Gpt2Weights.Open(dir.Path);
        const int windows = 2;
        var tokens = CpuForwardTests.RandomTokens(d, windows * seqLen, config.VocabSize);
        var expected = new CpuForwardTests.CollectingSink();
        new CpuDevice(weights).Run(tokens, windows, seqLen, [0, 1], expected, 3);
        var actual = new CpuForwardTests.CollectingSink();
        using (var device = DeviceCatalog.Create(deviceName, weights))
            device.Run(tokens, windows, seqLen, [0, 1], actual, 3);

        Assert.Equal(expected.Calls, actual.Calls);
        foreach (var layer in new[] { 0, 1 })
        {
            var e = expected.ByLayer[layer];
            var a = actual.ByLayer[layer];
            Assert.Equal(e.Length, a.Length);
            double worst = 0;
            for (int i = 0; i < e.Length; i++) worst = Math.Max(worst, Math.Abs(e[i] - a[i]));
            Assert.True(worst <= Tolerance, $"layer {layer}: max |{deviceName} − cpu| = {worst}");
        }
    }

    /// <summary>The same check on CUDA, where a device exists (the GPU box; scripts/gpu-run.sh); skipped elsewhere.</summary>
    [CudaFact]
    public void CudaMatchesTheCpuDevice()
    {
        using var dir = new TempDir();
        var config = new Gpt2Config(2, 4, 256, 128, 1000);
        SyntheticGpt2.Write(dir.Path, config, new(Seed: 5, DType: TensorDType.BF16));
        using var weights = Gpt2Weights.Open(dir.Path);
        var tokens = CpuForwardTests.RandomTokens(3, 4 * 100, config.VocabSize);
        var expected = new CpuForwardTests.CollectingSink();
        new CpuDevice(weights).Run(tokens, 4, 100, [0, 1], expected, 0);
        var actual = new CpuForwardTests.CollectingSink();
        using (var device = DeviceCatalog.Create("cuda", weights)) device.Run(tokens, 4, 100, [0, 1], actual, 0);
        foreach (var layer in new[] { 0, 1 })
        {
            double worst = expected.ByLayer[layer].Zip(actual.ByLayer[layer], (e, a) => Math.Abs(e - a)).Max();
            Assert.True(worst <= Tolerance, $"cuda layer {layer}: max |cuda − cpu| = {worst}");
        }
    }

    [Fact]
    public void StopsAtTheLastRequestedLayerAndReusesBuffers()
    {
        using var dir = new TempDir();
        var config = new Gpt2Config(3, 2, 16, 16, 50);
        SyntheticGpt2.Write(dir.Path, config, new(Seed: 1));
        using var weights = Gpt2Weights.Open(dir.Path);
        using var device = DeviceCatalog.Create("ilgpu-cpu", weights);
        var sink = new CpuForwardTests.CollectingSink();
        var times = new double[3];
        device.LayerMilliseconds = times;
        device.Run(CpuForwardTests.RandomTokens(1, 8, 50), 1, 8, [1], sink, 0);
        device.Run(CpuForwardTests.RandomTokens(2, 4, 50), 1, 4, [1], sink, 1); // smaller batch: same buffers
        Assert.Equal([(1, 0L, 1), (1, 1L, 1)], sink.Calls);
        Assert.True(times[0] > 0 && times[1] > 0);
        Assert.Equal(0, times[2]); // layer 2 never ran
        Assert.Equal(4 * 64, sink.ByLayer[1].Length);
    }

    [Fact]
    public void AbsentOrUnknownDevicesAreClearErrors()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, new Gpt2Config(1, 2, 16, 16, 50));
        using var weights = Gpt2Weights.Open(dir.Path);
        Assert.Contains("unknown device 'tpu'", Assert.Throws<ArgumentException>(() => DeviceCatalog.Create("tpu", weights)).Message);
        Assert.Contains(DeviceCatalog.Describe(), l => l.StartsWith("cpu"));
    }

    [Fact]
    public void AnAbsentCudaDeviceIsAClearError()
    {
        if (CudaAvailability.IsPresent) Assert.Skip("this machine has a CUDA device");
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, new Gpt2Config(1, 2, 16, 16, 50));
        using var weights = Gpt2Weights.Open(dir.Path);
        Assert.StartsWith("--device cuda: no CUDA device found: ", Assert.Throws<NotSupportedException>(() => DeviceCatalog.Create("cuda", weights)).Message);
    }
}
