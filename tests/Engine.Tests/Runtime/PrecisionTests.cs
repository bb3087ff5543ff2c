using System.Text.Json.Nodes;
using NeuronEngine.Cli;
using NeuronEngine.Cpu;
using NeuronEngine.Dump;
using NeuronEngine.Format;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Records;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Cpu;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;
using NeuronEngine.Forward;

namespace NeuronEngine.Tests.Runtime;

/// <summary>
/// `--precision fp32|tf32|bf16` end to end: the whole forward pass on `ilgpu-cpu` (tensor-core GEMMs emulated, 32-lane
/// warps) against the `cpu` device in the same precision; dump, records and bench carry the precision and record it;
/// a resume in another precision is refused; `engine precision-effect` reports the comparison.
/// </summary>
public class PrecisionTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _model, _corpus;

    public PrecisionTests()
    {
        _model = _dir["model"];
        SyntheticGpt2.Write(_model, new Gpt2Config(2, 2, 32, 64, Gpt2Tokenizer.VocabSize), new(Seed: 14, DType: TensorDType.BF16));
        string text = string.Join(" ", Enumerable.Range(0, 40).Select(i => $"Line {i}: the precision of {i * 3} multiplications, rounded or not."));
        _corpus = _dir.WriteText("corpus.txt", text);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// The ILGPU forward pass with tf32/bf16 GEMMs against the `cpu` device in the same precision, within the 1e-4 of
    /// the fp32 comparison (GEMMs agree to the bit before the bias, the other kernels differ as in fp32); and the
    /// precision really changes the activations (they differ from fp32 by more than that).
    /// </summary>
    [Theory]
    [InlineData(MatMulPrecision.Tf32)]
    [InlineData(MatMulPrecision.Bf16)]
    public void IlgpuCpuMatchesTheCpuDeviceInTheSamePrecision(MatMulPrecision precision)
    {
        using var dir = new TempDir();
        var config = new Gpt2Config(2, 3, 36, 40, 97);
        SyntheticGpt2.Write(dir.Path, config, new(Seed: 36, DType: TensorDType.F32));
        using var weights = Gpt2Weights.Open(dir.Path);
        const int windows = 2, seqLen = 7;
        var tokens = CpuForwardTests.RandomTokens(5, windows * seqLen, config.VocabSize);
        var fp32 = new CpuForwardTests.CollectingSink();
        new CpuDevice(weights).Run(tokens, windows, seqLen, [0, 1], fp32, 0);
        var expected = new CpuForwardTests.CollectingSink();
        new CpuDevice(weights, precision).Run(tokens, windows, seqLen, [0, 1], expected, 0);
        var actual = new CpuForwardTests.CollectingSink();
        using (var device = DeviceCatalog.Create("ilgpu-cpu", weights, precision))
        {
            Assert.Equal(precision, device.Precision);
            device.Run(tokens, windows, seqLen, [0, 1], actual, 0);
        }
        foreach (int layer in new[] { 0, 1 })
        {
            Assert.True(MaxDiff(expected.ByLayer[layer], actual.ByLayer[layer]) <= 1e-4, $"layer {layer}: ilgpu-cpu vs cpu in {precision}");
            Assert.True(MaxDiff(fp32.ByLayer[layer], expected.ByLayer[layer]) > 1e-4, $"layer {layer}: {precision} does not differ from fp32");
        }
    }

    /// <summary>
    /// On a CUDA device (skipped without one): the forward pass on the tensor cores against the `cpu` device's emulation
    /// of the same precision. The hardware sums each mma's products in its own order, and a different float32 sum can
    /// round to another TF32/bf16 value in the next GEMM, so the bound is relative to the precision's own effect: the GPU
    /// must be at most half as far from the emulation as the emulation is from fp32 (plus fp32's 1e-4); it reports both.
    /// </summary>
    [CudaTheory]
    [InlineData(MatMulPrecision.Tf32)]
    [InlineData(MatMulPrecision.Bf16)]
    public void CudaMatchesTheCpuEmulationWhenADeviceExists(MatMulPrecision precision)
    {
        using var dir = new TempDir();
        var config = new Gpt2Config(2, 4, 256, 128, 1000);
        SyntheticGpt2.Write(dir.Path, config, new(Seed: 5, DType: TensorDType.BF16));
        using var weights = Gpt2Weights.Open(dir.Path);
        var tokens = CpuForwardTests.RandomTokens(3, 4 * 100, config.VocabSize);
        var fp32 = new CpuForwardTests.CollectingSink();
        new CpuDevice(weights).Run(tokens, 4, 100, [0, 1], fp32, 0);
        var expected = new CpuForwardTests.CollectingSink();
        new CpuDevice(weights, precision).Run(tokens, 4, 100, [0, 1], expected, 0);
        var actual = new CpuForwardTests.CollectingSink();
        using (var device = DeviceCatalog.Create("cuda", weights, precision)) device.Run(tokens, 4, 100, [0, 1], actual, 0);
        foreach (int layer in new[] { 0, 1 })
        {
            double effect = MaxDiff(fp32.ByLayer[layer], expected.ByLayer[layer]), gpu = MaxDiff(expected.ByLayer[layer], actual.ByLayer[layer]);
            TestContext.Current.TestOutputHelper?.WriteLine($"{precision} layer {layer}: max |cuda − cpu emulation| {gpu:E2}, max |emulation − fp32| {effect:E2}");
            Assert.True(gpu <= 0.5 * effect + 1e-4, $"layer {layer}: {gpu} vs effect {effect}");
        }
    }

    [Fact]
    public void DumpRecordsThePrecisionAndRefusesToResumeInAnother()
    {
        string[] common = ["--model", _model, "--corpus", _corpus, "--seq-len", "8", "--layers", "1", "--max-windows", "3"];
        Assert.Equal(0, EngineCli.Run(["dump", .. common, "--out", _dir["cpu"], "--device", "cpu", "--precision", "bf16"]));
        Assert.Equal(0, EngineCli.Run(["dump", .. common, "--out", _dir["ilgpu"], "--device", "ilgpu-cpu", "--precision", "bf16"]));
        Assert.Equal("bf16", DumpManifest.TryLoad(_dir["cpu"])!.Settings.Precision);
        using (var a = SafeTensorsFile.Open(Path.Combine(_dir["cpu"], "shard-00000.safetensors")))
        using (var b = SafeTensorsFile.Open(Path.Combine(_dir["ilgpu"], "shard-00000.safetensors")))
            Assert.True(MaxDiff(a.Span<float>("mlp.1").ToArray(), b.Span<float>("mlp.1").ToArray()) <= 1e-4);

        var r = EngineProcess.Run(null, ["dump", .. common, "--out", _dir["cpu"], "--device", "cpu"]);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains("precision bf16 there vs fp32 now", r.StdErr);
    }

    [Fact]
    public void RecordsCarryThePrecision()
    {
        Assert.Equal(0, EngineCli.Run(["records", "--model", _model, "--corpus", _corpus, "--seq-len", "8", "--layers", "0", "--max-windows", "6",
            "--top-k", "2", "--random", "1", "--quantile-samples", "1", "--device", "cpu", "--precision", "tf32", "--out", _dir["rec"]]));
        var manifest = RecordsManifest.TryLoad(_dir["rec"])!;
        Assert.Equal("tf32", manifest.Settings.Precision);
        Assert.Null(manifest.Settings.FirstDifference(manifest.Settings));
        Assert.Contains("precision", manifest.Settings.FirstDifference(manifest.Settings with { Precision = "fp32" }));
    }

    [Fact]
    public void BenchReportsThePrecision()
    {
        var r = EngineProcess.Run(null, "bench", "--model", _model, "--device", "cpu", "--batch", "1", "--seq-len", "8", "--iterations", "1",
            "--warmup", "0", "--precision", "tf32", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var report = JsonNode.Parse(r.StdOut)!;
        Assert.Equal("tf32", (string)report["precision"]!);
        Assert.Null(report["precision_peak_tflops"]);
    }

    [Theory]
    [InlineData("dump", true)]
    [InlineData("records", true)]
    [InlineData("bench", false)]
    public void AnUnknownPrecisionIsOneClearLine(string command, bool writes)
    {
        string[] io = writes ? ["--corpus", _corpus, "--out", _dir["bad"]] : [];
        var r = EngineProcess.Run(null, [command, "--model", _model, .. io, "--device", "cpu", "--precision", "fp16"]);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["error: --precision: 'fp16' is not one of fp32, tf32, bf16", $"see `engine {command} --help`"], lines);
    }

    /// <summary>
    /// `engine precision-effect`: both precisions against fp32 over every neuron of the layers asked for; bf16 (7 mantissa
    /// bits) moves activations more than TF32 (10); fractions are fractions; fp32 cannot be compared with itself.
    /// </summary>
    [Fact]
    public void PrecisionEffectReportsBothPrecisions()
    {
        string json = _dir["effect.json"];
        var r = EngineProcess.Run(null, "precision-effect", "--model", _model, "--corpus", _corpus, "--seq-len", "8", "--max-windows", "12",
            "--top-k", "3", "--device", "cpu", "--batch", "5", "--json", json);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("tf32", r.StdOut);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(12, (int)report["windows"]!);
        var p = report["precisions"]!.AsArray().ToDictionary(x => (string)x!["precision"]!);
        Assert.Equal(["tf32", "bf16"], p.Keys);
        foreach (var x in p.Values)
        {
            Assert.Equal(2 * 128, (int)x!["neurons"]!);
            Assert.Equal(12L * 8 * 2 * 128, (long)x["values"]!);
            Assert.InRange((double)x["identical_top_sets"]!, 0, 1);
            Assert.InRange((double)x["mean_top_overlap"]!, (double)x["identical_top_sets"]!, 1);
            Assert.True((double)x["max_abs_diff"]! >= (double)x["p999_abs_diff"]! && (double)x["p999_abs_diff"]! > 0);
            Assert.Equal(2, x["layers"]!.AsArray().Count);
        }
        Assert.True((double)p["bf16"]!["p999_abs_diff"]! > (double)p["tf32"]!["p999_abs_diff"]!);
        var bad = EngineProcess.Run(null, "precision-effect", "--model", _model, "--corpus", _corpus, "--compare", "fp32");
        Assert.Equal(CommandRunner.BadInput, bad.ExitCode);
        Assert.Contains("fp32 is the reference", bad.StdErr);
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs((double)a[i] - b[i]));
        return worst;
    }
}
