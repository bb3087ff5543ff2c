using NeuronEngine.Cli;
using NeuronEngine.Corpus;
using NeuronEngine.Cpu;
using NeuronEngine.Dump;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Tests.Cpu;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;

namespace NeuronEngine.Tests.Dump;

/// <summary>`engine dump` end to end on a tiny synthetic model: shard contents, layout, resume and bad input.</summary>
public class DumpTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Gpt2Config _config = new(3, 2, 32, 64, Gpt2Tokenizer.VocabSize);
    private readonly string _model, _corpus;

    public DumpTests()
    {
        _model = _dir["model"];
        SyntheticGpt2.Write(_model, _config, new(Seed: 11, DType: TensorDType.F16));
        string text = string.Join(" ", Enumerable.Range(0, 60).Select(i => $"Sentence number {i} talks about apples, rivers and {i * 7} lighthouses."));
        _corpus = _dir.WriteText("corpus.txt", text);
    }

    public void Dispose() => _dir.Dispose();

    private int Dump(string outDir, params string[] extra) =>
        EngineCli.Run(["dump", "--model", _model, "--corpus", _corpus, "--out", outDir, "--device", "cpu", .. extra]);

    [Fact]
    public void ShardsHoldTokensAndTheForwardPassActivations()
    {
        string outDir = _dir["out"];
        Assert.Equal(0, Dump(outDir, "--seq-len", "16", "--layers", "0,2", "--windows-per-shard", "5", "--max-windows", "12", "--batch", "3"));
        var manifest = DumpManifest.TryLoad(outDir)!;
        Assert.True(manifest.Complete);
        Assert.Equal([("shard-00000.safetensors", 0L, 5), ("shard-00001.safetensors", 5L, 5), ("shard-00002.safetensors", 10L, 2)],
            manifest.Shards.Select(s => (s.File, s.FirstWindow, s.Windows)));
        Assert.Equal([0, 2], manifest.Settings.Layers);

        using var windows = CorpusReader.Open(_corpus, 16, _config.NPositions, _config.VocabSize, maxWindows: 12);
        using var weights = Gpt2Weights.Open(_model);
        var expected = new CpuForwardTests.CollectingSink();
        var all = new int[12 * 16];
        windows.CopyWindows(0, 12, all);
        new CpuGpt2Forward(weights).Run(all, 12, 16, [0, 2], expected);

        foreach (var s in manifest.Shards)
        {
            using var shard = SafeTensorsFile.Open(Path.Combine(outDir, s.File));
            Assert.Equal(["tokens", "mlp.0", "mlp.2"], shard.Entries.Select(e => e.Name));
            Assert.Equal([s.Windows, 16L], shard.Get("tokens").Shape);
            Assert.Equal([s.Windows, 16L, 128L], shard.Get("mlp.2").Shape);
            Assert.Equal(TensorDType.F32, shard.Get("mlp.0").DType);
            Assert.Equal(s.FirstWindow.ToString(), shard.Metadata["first_window"]);
            Assert.Equal("0,2", shard.Metadata["layers"]);
            Assert.Equal("16", shard.Metadata["seq_len"]);
            Assert.Equal(all.AsSpan((int)s.FirstWindow * 16, s.Windows * 16).ToArray(), shard.Span<int>("tokens").ToArray());
            foreach (int layer in new[] { 0, 2 })
                Assert.Equal(expected.ByLayer[layer].AsSpan((int)s.FirstWindow * 16 * 128, s.Windows * 16 * 128).ToArray(),
                    shard.Span<float>($"mlp.{layer}").ToArray());
        }
        Assert.False(Directory.EnumerateFiles(outDir, "*.tmp").Any());
    }

    [Fact]
    public void F16ShardsRoundTheF32Activations()
    {
        Assert.Equal(0, Dump(_dir["f32"], "--seq-len", "8", "--layers", "1", "--max-windows", "4"));
        Assert.Equal(0, Dump(_dir["f16"], "--seq-len", "8", "--layers", "1", "--max-windows", "4", "--dtype", "f16"));
        using var a = SafeTensorsFile.Open(Path.Combine(_dir["f32"], "shard-00000.safetensors"));
        using var b = SafeTensorsFile.Open(Path.Combine(_dir["f16"], "shard-00000.safetensors"));
        Assert.Equal(TensorDType.F16, b.Get("mlp.1").DType);
        Assert.Equal(a.Span<float>("mlp.1").ToArray().Select(v => (float)(Half)v), b.ReadAsFloat(b.Get("mlp.1")));
    }

    [Fact]
    public void KilledRunResumesToTheShardsOfAnUninterruptedRun()
    {
        string[] args = ["dump", "--model", _model, "--corpus", _corpus, "--seq-len", "8", "--windows-per-shard", "4", "--batch", "2", "--device", "cpu"];
        var full = EngineProcess.Run(null, [.. args, "--out", _dir["full"]]);
        Assert.Equal(0, full.ExitCode);

        // The engine SIGKILLs itself halfway through its third shard: a real kill at a known point.
        var killed = EngineProcess.Run(new Dictionary<string, string> { [EnvironmentHooks.KillAfterShardsVariable] = "2" }, [.. args, "--out", _dir["resumed"]]);
        Assert.NotEqual(0, killed.ExitCode);
        var partial = DumpManifest.TryLoad(_dir["resumed"])!;
        Assert.Equal(2, partial.Shards.Count);
        Assert.False(partial.Complete);
        Assert.True(File.Exists(Path.Combine(_dir["resumed"], "shard-00002.safetensors.tmp")));
        Assert.False(File.Exists(Path.Combine(_dir["resumed"], "shard-00002.safetensors")));

        var resumed = EngineProcess.Run(null, [.. args, "--out", _dir["resumed"]]);
        Assert.Equal(0, resumed.ExitCode);
        Assert.Contains("kept from an earlier run", resumed.StdErr);
        var fullManifest = DumpManifest.TryLoad(_dir["full"])!;
        var resumedManifest = DumpManifest.TryLoad(_dir["resumed"])!;
        Assert.Equal(fullManifest.Shards, resumedManifest.Shards);
        Assert.True(resumedManifest.Complete);
        Assert.True(fullManifest.Shards.Count > 3);
        foreach (var s in fullManifest.Shards)
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir["full"], s.File)), File.ReadAllBytes(Path.Combine(_dir["resumed"], s.File)));
        Assert.Empty(Directory.EnumerateFiles(_dir["resumed"], "*.tmp"));
    }

    [Fact]
    public void RerunWithOtherSettingsIsRefused()
    {
        Assert.Equal(0, Dump(_dir["o"], "--seq-len", "8", "--max-windows", "3"));
        var result = EngineProcess.Run(null, "dump", "--model", _model, "--corpus", _corpus, "--out", _dir["o"], "--seq-len", "16", "--max-windows", "3");
        Assert.Equal(CommandRunner.BadInput, result.ExitCode);
        Assert.Contains("manifest.json", result.StdErr);
        Assert.Contains("made with other settings (seq-len 8 there vs 16 now)", result.StdErr);
    }

    // More in Cli/ErrorCatalogueTests: every mistake, its exact line and exit code.
    [Theory]
    [InlineData("--layers", "3", "outside the model's layers 0-2", false)]
    [InlineData("--layers", "1-x", "not a layer index or range", true)]
    [InlineData("--seq-len", "65", "exceeds the model's n_positions 64", false)]
    [InlineData("--dtype", "bf8", "'bf8' is not one of f32, f16", true)]
    [InlineData("--device", "tpu", "'tpu' is not one of auto, cuda, opencl, ilgpu-cpu, cpu", true)]
    public void BadInputIsOneClearLine(string option, string value, string message, bool parseError)
    {
        var r = EngineProcess.Run(null, "dump", "--model", _model, "--corpus", _corpus, "--out", _dir["bad"], option, value);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(parseError ? ["see `engine dump --help`"] : [], lines[1..]);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(message, lines[0]);
    }

    [Fact]
    public void IlgpuDumpMatchesTheCpuDump() => DumpMatchesTheCpuDump("ilgpu-cpu");

    /// <summary>`engine dump --device D` of this class's F16 model equals the `cpu` dump within 1e-4 per activation.</summary>
    internal void DumpMatchesTheCpuDump(string device)
    {
        // Tolerance: 1e-4 absolute per activation (the kernels sum in a different order than the cpu device).
        Assert.Equal(0, Dump(_dir["cpu"], "--seq-len", "8", "--layers", "1", "--max-windows", "3"));
        Assert.Equal(0, EngineCli.Run(["dump", "--model", _model, "--corpus", _corpus, "--out", _dir[device], "--device", device,
            "--seq-len", "8", "--layers", "1", "--max-windows", "3"]));
        using var a = SafeTensorsFile.Open(Path.Combine(_dir["cpu"], "shard-00000.safetensors"));
        using var b = SafeTensorsFile.Open(Path.Combine(_dir[device], "shard-00000.safetensors"));
        Assert.Equal(a.Span<int>("tokens").ToArray(), b.Span<int>("tokens").ToArray());
        var x = a.Span<float>("mlp.1");
        var y = b.Span<float>("mlp.1");
        Assert.Equal(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= 1e-4, $"element {i}: {x[i]} vs {y[i]}");
    }

    [Fact]
    public void InfoShowsTheConfigAndDevices()
    {
        var r = EngineProcess.Run(null, "info", "--model", _model);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("layers:       3", r.StdOut);
        Assert.Contains("neurons:      128 per layer, 384 in all", r.StdOut);
        Assert.Contains($"parameters:   {_config.ParameterCount:N0}", r.StdOut);
        Assert.Contains("dtype:        F16", r.StdOut);
        Assert.Contains("cpu ", r.StdOut);
        Assert.Contains("ilgpu-cpu", r.StdOut);
    }

    [Fact]
    public void MissingModelNamesThePath()
    {
        var r = EngineProcess.Run(null, "dump", "--model", _dir["nowhere"], "--corpus", _corpus, "--out", _dir["bad"]);
        Assert.Equal(CommandRunner.BadInput, r.ExitCode);
        Assert.Contains("nowhere", r.StdErr);
    }
}
