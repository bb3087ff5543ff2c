using NeuronEngine.Cli;
using NeuronEngine.Connections;
using NeuronEngine.Format;
using NeuronEngine.Forward;
using NeuronEngine.Model;
using NeuronEngine.OpenAi;
using NeuronEngine.Related;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Connections;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Connections;

/// <summary>A tiny synthetic GPT-2 of 3 layers (d = 32: 128 neurons a layer, F16 weights), its brute force and a complete cpu run, built once.</summary>
public sealed class ConnectionsFixture : IDisposable
{
    public TempDir Dir { get; } = new();
    public string Model { get; }
    /// <summary>`engine connections --device cpu --top 7 --format both` over all layers.</summary>
    public string Full { get; }
    public (int ExitCode, string StdOut, string StdErr) FullRun { get; }
    public BruteForceConnections BruteForce { get; }
    public const int Top = 7, Neurons = 128, Layers = 3;

    public ConnectionsFixture()
    {
        Model = Dir["model"];
        SyntheticGpt2.Write(Model, new Gpt2Config(Layers, 2, 32, 16, 1600), new(Seed: 21, DType: TensorDType.F16));
        Full = Dir["full"];
        FullRun = EngineProcess.Run(null, "connections", "--model", Model, "--out", Full, "--device", "cpu", "--top", $"{Top}", "--format", "both");
        using var weights = Gpt2Weights.Open(Model);
        BruteForce = new BruteForceConnections(weights);
    }

    public void Dispose() => Dir.Dispose();
}

/// <summary>`engine connections` against a float64 brute force over all neuron pairs (docs/related.md), on `cpu` and on the ILGPU kernels.</summary>
public class ConnectionsTests(ConnectionsFixture f, ITestOutputHelper output) : IClassFixture<ConnectionsFixture>
{
    private static readonly ConnectionList[] Lists = Enum.GetValues<ConnectionList>();

    /// <summary>
    /// Every list of every neuron: the connected neurons are the float64 ones, except that two candidates whose float64
    /// weights differ by less than float32 rounding (here 2e-6 relative to the weight) may trade places; weights within
    /// 1e-4 relative of float64 (float32 GEMM, d = 32). Returns the number of such trades.
    /// </summary>
    private static int AssertMatches(BruteForceConnections bf, ConnectionsLayer actual)
    {
        int trades = 0;
        for (int n = 0; n < actual.Neurons; n++)
            foreach (var list in Lists)
            {
                var expected = bf.List(list, actual.Layer, n, actual.Top);
                var got = actual.Of(list, n).ToArray();
                Assert.Equal(expected.Length, got.Length);
                for (int i = 0; i < expected.Length; i++)
                {
                    double exact = bf.Weight(list, actual.Layer, n, got[i].Layer, got[i].Neuron);
                    if ((got[i].Layer, got[i].Neuron) != (expected[i].Layer, expected[i].Neuron))
                    {
                        trades++;
                        Assert.True(Math.Abs(exact - expected[i].Weight) <= 2e-6 * Math.Abs(expected[i].Weight),
                            $"{list} of {actual.Layer}/{n}, #{i}: {got[i].Layer}/{got[i].Neuron} ({exact:R}) where float64 ranks {expected[i].Layer}/{expected[i].Neuron} ({expected[i].Weight:R})");
                    }
                    Assert.True(Math.Abs(got[i].Weight - exact) <= 1e-4 * Math.Abs(exact), $"{list} of {actual.Layer}/{n}, #{i}: {got[i].Weight:R}, expected {exact:R}");
                }
            }
        return trades;
    }

    /// <summary>
    /// The same lists: bit for bit when <paramref name="tolerance"/> is 0 (the same GEMM, other blocks or segments);
    /// otherwise (another device's GEMM, whose sums round in another order) weights within that relative tolerance,
    /// and the same neurons except where the two weights at a rank agree within it (a near tie may trade places).
    /// </summary>
    private static void AssertSameLists(ConnectionsLayer expected, ConnectionsLayer actual, string what, double tolerance = 0)
    {
        Assert.Equal((expected.Layer, expected.Neurons, expected.Top), (actual.Layer, actual.Neurons, actual.Top));
        for (int l = 0; l < ConnectionsLayer.ListCount; l++)
            for (int i = 0; i < expected.Ids[l].Length; i++)
            {
                float a = actual.Values[l][i], e = expected.Values[l][i];
                bool close = tolerance == 0 || float.IsNaN(e) ? a.Equals(e) : Math.Abs(a - e) <= tolerance * Math.Abs(e);
                Assert.True(close && (expected.Ids[l][i] == actual.Ids[l][i] || tolerance > 0),
                    $"{what}, layer {expected.Layer} {ConnectionsLayer.ListNames[l]} of neuron {i / expected.Top}, #{i % expected.Top}: " +
                    $"{actual.Ids[l][i]} ({a:R}), expected {expected.Ids[l][i]} ({e:R})");
            }
    }

    /// <summary>Runs every row of the pairs a full run computes on <paramref name="device"/> and returns each layer's lists.</summary>
    private static ConnectionsLayer[] RunAll(IConnectionsDevice device)
    {
        const int n = ConnectionsFixture.Neurons, top = ConnectionsFixture.Top;
        var up = Enumerable.Range(0, ConnectionsFixture.Layers).Select(_ => new TopAndBottom(n, top)).ToArray();
        var result = new ConnectionsLayer[ConnectionsFixture.Layers];
        foreach (var (source, targets) in ConnectionsRun.Rows([0, 1, 2], ConnectionsFixture.Layers))
        {
            var down = new TopAndBottom(n, top);
            device.Row(source, targets, top, down, t => up[t]);
            result[source] = ConnectionsLayer.From(source, n, top, up[source], down);
        }
        return result;
    }

    [Fact]
    public void CpuCommandMatchesFloat64BruteForceOverAllNeuronPairs()
    {
        Assert.True(f.FullRun.ExitCode == 0, f.FullRun.StdErr);
        output.WriteLine(f.FullRun.StdErr);
        Assert.Contains("connections: layer 0 has no earlier layer: its upstream lists are empty", f.FullRun.StdErr);
        Assert.Contains("connections: layer 2 is the last layer: its downstream lists are empty", f.FullRun.StdErr);
        Assert.Contains("connections: layers 0-2 × 128 neurons, top 7, 3 layer pair(s) of 128 × 32 × 128, on cpu (fp32)", f.FullRun.StdErr);
        var manifest = ConnectionsManifest.TryLoad(f.Full)!;
        Assert.True(manifest.Complete);
        Assert.Equal([0, 1, 2], manifest.LayersDone);
        Assert.Null(manifest.UpstreamCheckpoint);
        Assert.DoesNotContain(Directory.EnumerateFiles(f.Full), p => ConnectionsFiles.IsCheckpoint(Path.GetFileName(p)));
        for (int layer = 0; layer < ConnectionsFixture.Layers; layer++)
        {
            var packed = ConnectionsFiles.ReadPacked(Path.Combine(f.Full, ConnectionsFiles.PackedFileName(layer)));
            Assert.Equal((layer, 128, 7), (packed.Layer, packed.Neurons, packed.Top));
            int trades = AssertMatches(f.BruteForce, packed);
            output.WriteLine($"layer {layer}: {trades} near-tie trade(s)");
            // Layer 0 has nothing upstream, the last layer nothing downstream: those lists are empty.
            Assert.Equal(layer == 0, packed.Of(ConnectionList.UpstreamPositive, 5).Count() == 0);
            Assert.Equal(layer == 2, packed.Of(ConnectionList.DownstreamNegative, 5).Count() == 0);
            // The JSON holds the same lists.
            foreach (int n in new[] { 0, 64, 127 })
            {
                string path = ConnectionsFiles.JsonPath(f.Full, layer, n);
                var json = ConnectionsFiles.NeuronJson.Read(path);
                foreach (var list in Lists)
                    Assert.Equal(packed.Of(list, n).Select(c => (c.Layer, c.Neuron, (double)c.Weight)), json.List(list).Select(c => (c.Layer, c.Neuron, c.Weight)));
                string text = File.ReadAllText(path);
                Assert.StartsWith("{\"dataclass_name\":\"WeightBasedConnectionsOfNeuron\",\"upstream_positive\":[", text);
                if (layer > 0) Assert.Contains("\"upstream_positive\":[{\"dataclass_name\":\"NeuronConnection\",\"layer\":", text);
                OpenAiStrictLoader.Load(path, "WeightBasedConnectionsOfNeuron");
            }
        }
    }

    /// <summary>
    /// The ILGPU kernels on the CPU accelerator (ragged blocks of 50 source neurons, 1 and 3 segments per neuron) give the
    /// brute force's lists and the `cpu` device's (weights within 1e-5 relative: the two GEMMs sum in different orders);
    /// the `cpu` device gives the same lists bit for bit whatever its block size, and so does the command: the merge over
    /// layer pairs, blocks and segments depends on the weights alone.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void IlgpuKernelsAndEveryChunkingGiveTheSameLists(int segments) => KernelsAndEveryChunkingGiveTheSameLists("ilgpu-cpu", segments);

    /// <summary>The check above with the kernels on <paramref name="deviceName"/> (ilgpu-cpu here, opencl in the OpenCL tests).</summary>
    internal void KernelsAndEveryChunkingGiveTheSameLists(string deviceName, int segments)
    {
        using var weights = Gpt2Weights.Open(f.Model);
        var (context, accelerator) = TestAccelerators.Open(deviceName);
        using var ilgpu = new IlgpuConnections(deviceName, context, accelerator, weights, chunkRows: 50, segments: segments);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var onIlgpu = RunAll(ilgpu);
        output.WriteLine($"{deviceName}: 3 layer pairs of 128 × 32 × 128 in {clock.Elapsed.TotalSeconds:F1} s");
        using var wide = new CpuConnections(weights, chunkRows: 128);
        using var narrow = new CpuConnections(weights, chunkRows: 40);
        var onCpu = RunAll(wide);
        var onCpuNarrow = RunAll(narrow);
        for (int layer = 0; layer < ConnectionsFixture.Layers; layer++)
        {
            AssertMatches(f.BruteForce, onIlgpu[layer]);
            AssertSameLists(onCpu[layer], onCpuNarrow[layer], "cpu, blocks of 40 rows");
            AssertSameLists(onCpu[layer], onIlgpu[layer], deviceName, tolerance: 1e-5);
            AssertSameLists(onCpu[layer], ConnectionsFiles.ReadPacked(Path.Combine(f.Full, ConnectionsFiles.PackedFileName(layer))), "the command's file");
        }
    }

    /// <summary>A selection computes only the pairs it needs, and its layers' lists are those of the full run.</summary>
    [Fact]
    public void ASelectedLayerGetsTheListsOfTheFullRun()
    {
        Assert.Equal([(0, new[] { 1 }), (1, new[] { 2 })], ConnectionsRun.Rows([1], 3).Select(r => (r.Source, r.Targets)));
        Assert.Equal([(0, new[] { 1, 2 }), (1, new[] { 2 }), (2, [])], ConnectionsRun.Rows([0, 2], 3).Select(r => (r.Source, r.Targets)));
        Assert.Equal([(0, new[] { 1, 2, 3 })], ConnectionsRun.Rows([0], 4).Select(r => (r.Source, r.Targets)));
        string dir = f.Dir["layer-1"];
        var r = EngineProcess.Run(null, "connections", "--model", f.Model, "--out", dir, "--device", "cpu", "--top", "7", "--layers", "1");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.DoesNotContain("are empty", r.StdErr);
        Assert.Contains("2 layer pair(s)", r.StdErr);
        Assert.Equal(["connections.json", "layer-1.safetensors"], Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Order());
        AssertSameLists(ConnectionsFiles.ReadPacked(Path.Combine(f.Full, ConnectionsFiles.PackedFileName(1))),
            ConnectionsFiles.ReadPacked(Path.Combine(dir, ConnectionsFiles.PackedFileName(1))), "--layers 1");
    }

    /// <summary>A device that stops the run (as a kill would) after <paramref name="rows"/> rows.</summary>
    private sealed class StopsAfter(IConnectionsDevice inner, int rows) : IConnectionsDevice
    {
        private int _rows;
        public string Name => inner.Name;
        public void Row(int source, IReadOnlyList<int> targets, int top, TopAndBottom? downstream, Func<int, TopAndBottom?> upstream, Action? pairDone = null)
        {
            if (_rows++ == rows) throw new OperationCanceledException("killed");
            inner.Row(source, targets, top, downstream, upstream, pairDone);
        }
        public void Dispose() { }
    }

    /// <summary>
    /// A run stopped after its first row keeps layer 0's files and the upstream lists gathered for layers 1 and 2 in a
    /// checkpoint; the rerun continues from row 1 and writes the same files as the uninterrupted run.
    /// </summary>
    [Fact]
    public void AKilledRunContinuesFromItsCheckpointAndEndsWithTheSameFiles()
    {
        string dir = f.Dir["resume"];
        var reference = ConnectionsManifest.TryLoad(f.Full)!.Settings;
        var settings = reference with { Format = "packed" };
        using var weights = Gpt2Weights.Open(f.Model);
        using var cpu = new CpuConnections(weights);
        Assert.Throws<OperationCanceledException>(() => new ConnectionsRun(new StopsAfter(cpu, 1), settings, dir).Run());
        var m = ConnectionsManifest.TryLoad(dir)!;
        Assert.False(m.Complete);
        Assert.Equal([0], m.LayersDone);
        Assert.Equal(1, m.SourceLayersDone);
        Assert.Equal(ConnectionsFiles.CheckpointFileName(1), m.UpstreamCheckpoint);
        Assert.True(File.Exists(Path.Combine(dir, m.UpstreamCheckpoint!)));
        var before = File.GetLastWriteTimeUtc(Path.Combine(dir, ConnectionsFiles.PackedFileName(0)));

        var rerun = new ConnectionsRun(cpu, settings, dir);
        Assert.True(rerun.Run());
        Assert.Equal((1, 1), (rerun.LayersKept, rerun.PairsComputed)); // only (1, 2) was left
        Assert.Equal(before, File.GetLastWriteTimeUtc(Path.Combine(dir, ConnectionsFiles.PackedFileName(0))));
        Assert.True(ConnectionsManifest.TryLoad(dir)!.Complete);
        Assert.DoesNotContain(Directory.EnumerateFiles(dir), p => ConnectionsFiles.IsCheckpoint(Path.GetFileName(p)));
        for (int layer = 0; layer < ConnectionsFixture.Layers; layer++)
            Assert.Equal(File.ReadAllBytes(Path.Combine(f.Full, ConnectionsFiles.PackedFileName(layer))), File.ReadAllBytes(Path.Combine(dir, ConnectionsFiles.PackedFileName(layer))));
        Assert.False(new ConnectionsRun(cpu, settings, dir).Run()); // complete: nothing to do
    }

    [Fact]
    public void RerunsAreIdempotentAndOtherSettingsAreRefused()
    {
        var again = EngineProcess.Run(null, "connections", "--model", f.Model, "--out", f.Full, "--device", "cpu", "--top", "7", "--format", "both");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("nothing to do", again.StdErr);
        var other = EngineProcess.Run(null, "connections", "--model", f.Model, "--out", f.Full, "--device", "cpu", "--top", "8", "--format", "both");
        Assert.Equal(2, other.ExitCode);
        Assert.Equal($"error: {ConnectionsManifest.PathIn(f.Full)}: this directory holds connections with a different top (7 vs 8); use a new --out or delete it", other.StdErr.Trim());
    }

    [Fact]
    public void PackedFilesSayWhatTheyHold()
    {
        using var file = SafeTensorsFile.Open(Path.Combine(f.Full, ConnectionsFiles.PackedFileName(1)));
        Assert.Equal("openai", file.Metadata["definition"]);
        Assert.Equal("128", file.Metadata["neurons_per_layer"]);
        Assert.Equal("upstream_positive,upstream_negative,downstream_positive,downstream_negative", file.Metadata["lists"]);
        var layers = file.Span<int>(file.Get("upstream_positive.layers")).ToArray();
        Assert.All(layers, l => Assert.Equal(0, l)); // layer 1's only earlier layer
        Assert.All(file.Span<int>(file.Get("downstream_negative.layers")).ToArray(), l => Assert.Equal(2, l));
    }

    /// <summary>
    /// On a GPU (scripts/gpu-run.sh, `-trait device=cuda`): GPT-2 small's shape (cached synthetic preset), the row of
    /// source layer 0 paired with layers 1 and 11 (both directions' top-k) on CUDA against the `cpu` device — weights
    /// within 1e-4 relative, neurons identical except where the two weights at a rank agree to 1e-4 — and the time
    /// per pair on each, in the test output.
    /// </summary>
    [CudaFact]
    public void CudaMatchesTheCpuDeviceOnGpt2SmallShape()
    {
        using var weights = Gpt2Weights.Open(SyntheticModelCache.GetOrCreate("gpt2"));
        int n = weights.Config.DMlp, top = 20;
        int[] targets = [1, weights.Config.NLayer - 1];
        using var cuda = ConnectionsDevices.Create("cuda", weights);
        using var cpu = new CpuConnections(weights);
        cuda.Row(0, [1], top, new TopAndBottom(n, top), _ => new TopAndBottom(n, top)); // compiles the kernels
        ConnectionsLayer[] On(IConnectionsDevice device, out double seconds)
        {
            var down = new TopAndBottom(n, top);
            var up = targets.ToDictionary(t => t, _ => new TopAndBottom(n, top));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            device.Row(0, targets, top, down, t => up[t]);
            seconds = clock.Elapsed.TotalSeconds / targets.Length;
            return [ConnectionsLayer.From(0, n, top, new TopAndBottom(n, top), down), .. targets.Select(t => ConnectionsLayer.From(t, n, top, up[t], new TopAndBottom(n, top)))];
        }
        var onCuda = On(cuda, out double cudaSeconds);
        var onCpu = On(cpu, out double cpuSeconds);
        output.WriteLine($"per layer pair of {n} × {weights.Config.NEmbd} × {n}: cuda {cudaSeconds:F3} s " +
            $"({2.0 * n * weights.Config.NEmbd * n / cudaSeconds / 1e12:F2} TFLOP/s with the top-k and the host merge), cpu {cpuSeconds:F2} s");
        for (int i = 0; i < onCpu.Length; i++) AssertSameLists(onCpu[i], onCuda[i], "cuda", tolerance: 1e-4);
    }
}
