using NeuronEngine.Cli;
using NeuronEngine.Format;
using NeuronEngine.Forward;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Related;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Related;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Related;

/// <summary>Two tiny synthetic GPT-2s (GPT-2's full vocabulary and a small one), built once for the class.</summary>
public sealed class RelatedFixture : IDisposable
{
    public TempDir Dir { get; } = new();
    /// <summary>2 layers, d = 32 (128 neurons), all 50,257 tokens.</summary>
    public string Model { get; }
    /// <summary>3 layers, d = 32, 1,600 tokens, F16 weights: for the slow ILGPU CPU emulator.</summary>
    public string SmallVocabModel { get; }

    public RelatedFixture()
    {
        Model = Dir["model"];
        SyntheticGpt2.Write(Model, new Gpt2Config(2, 2, 32, 16, Gpt2Tokenizer.VocabSize), new(Seed: 11, DType: TensorDType.F32));
        SmallVocabModel = Dir["small-vocab"];
        SyntheticGpt2.Write(SmallVocabModel, new Gpt2Config(3, 2, 32, 16, 1600), new(Seed: 12, DType: TensorDType.F16));
    }

    public void Dispose() => Dir.Dispose();
}

/// <summary>`engine related` against a float64 brute force (docs/related.md), on `cpu` and on the ILGPU kernels.</summary>
public class RelatedTests(RelatedFixture f, ITestOutputHelper output) : IClassFixture<RelatedFixture>
{
    /// <summary>
    /// Top tokens identical, except that two tokens whose float64 values differ by less than float32 rounding (here
    /// 2e-6 relative) may trade places: every listed token's float64 value must equal the float64 list's value at
    /// that rank within 2e-6 relative. Values within 1e-4 relative of float64. Returns the number of such trades.
    /// </summary>
    private static int AssertMatches(BruteForceRelated bf, RelatedLayer actual, int[] neurons)
    {
        int trades = 0;
        foreach (int n in neurons)
            foreach (var list in Enum.GetValues<RelatedList>())
            {
                var expected = bf.List(list, n, actual.Top);
                var tokens = actual.TokensOf(list, n).ToArray();
                var values = actual.StrengthsOf(list, n).ToArray();
                Assert.Equal(expected.Length, tokens.Length);
                for (int i = 0; i < expected.Length; i++)
                {
                    double exact = bf.Value(list, tokens[i], n);
                    if (tokens[i] != expected[i].Token)
                    {
                        trades++;
                        Assert.True(Math.Abs(exact - expected[i].Value) <= 2e-6 * Math.Abs(expected[i].Value),
                            $"{list} of neuron {n}, #{i}: token {tokens[i]} ({exact:R}) where float64 ranks {expected[i].Token} ({expected[i].Value:R})");
                    }
                    Assert.True(Math.Abs(values[i] - exact) <= 1e-4 * Math.Abs(exact), $"{list} of neuron {n}, #{i}: {values[i]:R}, expected {exact:R}");
                }
            }
        return trades;
    }

    /// <summary>
    /// The `cpu` command over GPT-2's full vocabulary, every list of every neuron against the float64 brute force: OpenAI's
    /// definition (the default, no --definition given) and the direct path with and without wpe[0].
    /// </summary>
    [Theory]
    [InlineData(null, false)]
    [InlineData("direct-path", false)]
    [InlineData("direct-path", true)]
    public void CpuCommandMatchesFloat64BruteForce(string? definition, bool withWpe0)
    {
        string dir = f.Dir[$"cpu-{definition ?? "default"}-{withWpe0}"];
        Assert.Equal(0, EngineCli.Run(["related", "--model", f.Model, "--out", dir, "--device", "cpu", "--top", "12", "--format", "both",
            .. definition is null ? Array.Empty<string>() : ["--definition", definition], .. withWpe0 ? new[] { "--with-wpe0" } : []]));
        using var weights = Gpt2Weights.Open(f.Model);
        var tokenizer = Gpt2Tokenizer.Load();
        var manifest = RelatedManifest.TryLoad(dir)!;
        Assert.True(manifest.Complete);
        Assert.Equal([0, 1], manifest.LayersDone);
        Assert.Equal(withWpe0, manifest.Settings.WithPositionZero);
        Assert.Equal(definition ?? "openai", manifest.Settings.Definition);
        var formulas = RelatedDefinitions.Parse(manifest.Settings.Definition);
        foreach (int layer in new[] { 0, 1 })
        {
            var packed = RelatedFiles.ReadPacked(Path.Combine(dir, RelatedFiles.PackedFileName(layer)));
            Assert.Equal((layer, 128, 12), (packed.Layer, packed.Neurons, packed.Top));
            int trades = AssertMatches(new BruteForceRelated(weights, layer, formulas, withWpe0), packed, Enumerable.Range(0, 128).ToArray());
            output.WriteLine($"layer {layer}: {trades} near-tie trade(s) among 128 × 4 × 12 listed tokens");
            // The OpenAI layout holds the same lists, token ids decoded as records show them.
            foreach (int n in new[] { 0, 77, 127 })
            {
                string path = RelatedFiles.OpenAiPath(dir, layer, n);
                var summary = RelatedFiles.ReadOpenAi(path);
                foreach (var list in Enum.GetValues<RelatedList>())
                {
                    Assert.Equal(packed.TokensOf(list, n).ToArray().Select(tokenizer.DisplayToken), summary.List(list).Tokens);
                    Assert.Equal(packed.StrengthsOf(list, n).ToArray().Select(v => (double)v), summary.List(list).Strengths);
                }
                string json = File.ReadAllText(path);
                Assert.StartsWith("{\"dataclass_name\":\"WeightBasedSummaryOfNeuron\",\"input_positive\":{\"dataclass_name\":\"TokensAndWeights\",\"tokens\":[", json);
                Assert.Contains("},\"input_negative\":{\"dataclass_name\":\"TokensAndWeights\",\"tokens\":[", json);
                Assert.EndsWith("]}}", json);
                Assert.Equal(RelatedFiles.Serialize(summary), json);
                OpenAiStrictLoader.Load(path, "WeightBasedSummaryOfNeuron"); // OpenAI's loader reads it
            }
        }
    }

    [Theory]
    [InlineData(RelatedDefinition.OpenAi, false, 3)]
    [InlineData(RelatedDefinition.DirectPath, false, 1)]
    [InlineData(RelatedDefinition.DirectPath, true, 3)]
    public void IlgpuKernelsMatchFloat64BruteForce(RelatedDefinition definition, bool withWpe0, int segments) =>
        KernelsMatchFloat64BruteForce("ilgpu-cpu", definition, withWpe0, segments);

    /// <summary>The check above on <paramref name="deviceName"/> (ilgpu-cpu here, opencl in the OpenCL tests).</summary>
    internal void KernelsMatchFloat64BruteForce(string deviceName, RelatedDefinition definition, bool withWpe0, int segments)
    {
        using var weights = Gpt2Weights.Open(f.SmallVocabModel);
        var (context, accelerator) = TestAccelerators.Open(deviceName);
        // Chunks of 350 rows: the last chunk is ragged, and keys from several chunks compete.
        using var device = new IlgpuRelatedTokens(deviceName, context, accelerator, weights, definition, withWpe0, chunkRows: 350, segments: segments);
        Assert.Equal(5, device.ChunksPerLayer);
        int chunks = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var layer = device.Compute(2, top: 9, () => chunks++);
        output.WriteLine($"{deviceName}: one layer of 128 neurons × 1600 tokens in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(5, chunks);
        int trades = AssertMatches(new BruteForceRelated(weights, 2, definition, withWpe0), layer, Enumerable.Range(0, 128).ToArray());
        output.WriteLine($"{trades} near-tie trade(s)");
        // …and agrees with the cpu device's lists token for token.
        using var cpu = new CpuRelatedTokens(weights, definition, withWpe0, chunkRows: 512);
        var onCpu = cpu.Compute(2, top: 9);
        foreach (var list in Enum.GetValues<RelatedList>())
            Assert.Equal(onCpu.Tokens[(int)list], layer.Tokens[(int)list]);
    }

    /// <summary>
    /// `related --precision`: the GEMMs round their inputs as the forward pass's do (docs/precision.md), related.json
    /// records the precision and a rerun in another one is refused, like dump and records.
    /// </summary>
    [Fact]
    public void PrecisionRoundsTheGemmsAndIsRecordedAndARerunInAnotherIsRefused()
    {
        string fp32 = f.Dir["p-fp32"], bf16 = f.Dir["p-bf16"];
        string[] args = ["related", "--model", f.SmallVocabModel, "--device", "cpu", "--layers", "1", "--top", "6"];
        Assert.Equal(0, EngineCli.Run([.. args, "--out", fp32]));
        var run = EngineProcess.Run(null, [.. args, "--out", bf16, "--precision", "bf16"]);
        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Contains("top 6, definition openai, on cpu (bf16)", run.StdErr);
        Assert.Equal("fp32", RelatedManifest.TryLoad(fp32)!.Settings.Precision);
        Assert.Equal("bf16", RelatedManifest.TryLoad(bf16)!.Settings.Precision);

        var exact = RelatedFiles.ReadPacked(Path.Combine(fp32, RelatedFiles.PackedFileName(1)));
        var rounded = RelatedFiles.ReadPacked(Path.Combine(bf16, RelatedFiles.PackedFileName(1)));
        foreach (var list in Enum.GetValues<RelatedList>())
        {
            var a = exact.Strengths[(int)list];
            var b = rounded.Strengths[(int)list];
            Assert.NotEqual(a, b); // 8-bit mantissas move the values…
            for (int n = 0; n < exact.Neurons; n++)
            {
                // …by bf16's relative error (2⁻⁸ per input, accumulated over d = 32 products) of the list's scale.
                float scale = MathF.Abs(a[n * exact.Top]);
                for (int i = 0; i < exact.Top; i++)
                    Assert.True(MathF.Abs(a[n * exact.Top + i] - b[n * exact.Top + i]) <= 0.05f * scale, $"{list} of neuron {n}, #{i}: {b[n * exact.Top + i]:R} vs fp32 {a[n * exact.Top + i]:R}");
            }
        }

        var other = EngineProcess.Run(null, [.. args, "--out", bf16, "--precision", "tf32"]);
        Assert.Equal(2, other.ExitCode);
        Assert.Equal($"error: {RelatedManifest.PathIn(bf16)}: this directory holds related tokens with a different precision (bf16 vs tf32); use a new --out or delete it", other.StdErr.Trim());
    }

    /// <summary>
    /// On `ilgpu-cpu` a tf32/bf16 run gets the 32-lane accelerator the tensor-core emulation needs, and its GEMM is the
    /// cpu device's rounded GEMM bit for bit: a side that is one GEMM of the raw embeddings (both of OpenAI's, the
    /// direct path's output side) gives the same lists and strengths; the direct path's input side passes through
    /// LayerNorm first (kernel vs host, last-bit differences before the rounding), so its lists agree token for token
    /// with values within the precision's rounding.
    /// </summary>
    [Theory]
    [InlineData(MatMulPrecision.Tf32, RelatedDefinition.DirectPath)]
    [InlineData(MatMulPrecision.Bf16, RelatedDefinition.OpenAi)]
    public void IlgpuTensorCoreEmulationMatchesTheCpuDeviceInTheSamePrecision(MatMulPrecision precision, RelatedDefinition definition)
    {
        using var weights = Gpt2Weights.Open(f.SmallVocabModel);
        using var device = RelatedDevices.Create("ilgpu-cpu", weights, definition, withPositionZero: false, precision);
        var onIlgpu = device.Compute(1, top: 6);
        using var cpu = new CpuRelatedTokens(weights, definition, withPositionZero: false, chunkRows: 512, precision: precision);
        var onCpu = cpu.Compute(1, top: 6);
        var exact = definition == RelatedDefinition.OpenAi ? Enum.GetValues<RelatedList>() : [RelatedList.OutputPositive, RelatedList.OutputNegative];
        foreach (var list in exact)
        {
            Assert.Equal(onCpu.Tokens[(int)list], onIlgpu.Tokens[(int)list]);
            Assert.Equal(onCpu.Strengths[(int)list], onIlgpu.Strengths[(int)list]);
        }
        float tolerance = precision == MatMulPrecision.Tf32 ? 1e-3f : 1e-2f;
        foreach (var list in Enum.GetValues<RelatedList>().Except(exact))
            for (int i = 0; i < onCpu.Strengths[(int)list].Length; i++)
            {
                float a = onIlgpu.Strengths[(int)list][i], e = onCpu.Strengths[(int)list][i];
                Assert.True(MathF.Abs(a - e) <= tolerance * MathF.Abs(e), $"{list} slot {i}: ilgpu-cpu {a:R}, cpu {e:R}");
            }
    }

    [Fact]
    public void ListsBreakTiesByTheLowerTokenAndLeaveEmptySlotsEmpty()
    {
        // Two groups offered keys with equal values: the lower token id wins; empty slots never show.
        var high = new TokenTopK(1, 3);
        var low = new TokenTopK(1, 3);
        foreach (var (v, t) in new[] { (1f, 9), (2f, 5), (2f, 3), (-0f, 4), (0f, 2), (float.NaN, 1) })
        {
            if (float.IsNaN(v)) continue;
            high.Offer(0, TokenKeys.High(v, t));
            low.Offer(0, TokenKeys.Low(v, t));
        }
        Assert.Equal([3, 5, 9], high.Sorted(0).Select(TokenKeys.Token));
        Assert.Equal([2, 4, 9], low.Sorted(0).Select(TokenKeys.Token)); // −0 ties with +0: token 2 before 4
        Assert.Equal([2f, 2f, 1f], high.Sorted(0).Select(TokenKeys.HighValue));

        var layer = new RelatedLayer(0, 1, 5);
        var sparse = new TokenTopK(1, 5);
        sparse.Offer(0, TokenKeys.High(1f, 7));
        layer.Fill(RelatedList.InputPositive, sparse, high: true);
        Assert.Equal([7, -1, -1, -1, -1], layer.TokensOf(RelatedList.InputPositive, 0).ToArray());
        Assert.True(float.IsNaN(layer.StrengthsOf(RelatedList.InputPositive, 0)[1]));
    }

    [Fact]
    public void RerunsAreIdempotentAndOtherSettingsAreRefused()
    {
        string dir = f.Dir["rerun"];
        var first = EngineProcess.Run(null, "related", "--model", f.SmallVocabModel, "--out", dir, "--device", "cpu", "--layers", "0,2", "--top", "4");
        Assert.True(first.ExitCode == 0, first.StdErr);
        Assert.Contains("related: layers 0,2 × 128 neurons × 1600 tokens, top 4, definition openai, on cpu", first.StdErr);
        var again = EngineProcess.Run(null, "related", "--model", f.SmallVocabModel, "--out", dir, "--device", "cpu", "--layers", "0,2", "--top", "4");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("nothing to do", again.StdErr);
        var other = EngineProcess.Run(null, "related", "--model", f.SmallVocabModel, "--out", dir, "--device", "cpu", "--layers", "0,2", "--top", "5");
        Assert.Equal(2, other.ExitCode);
        Assert.Equal($"error: {RelatedManifest.PathIn(dir)}: this directory holds related tokens with a different top (4 vs 5); use a new --out or delete it", other.StdErr.Trim());
        var badTop = EngineProcess.Run(null, "related", "--model", f.SmallVocabModel, "--out", f.Dir["bad"], "--top", "0");
        Assert.Equal(2, badTop.ExitCode);
        Assert.Equal("error: --top 0: must be at least 1\nsee `engine related --help`", badTop.StdErr.Trim());
        var bigTop = EngineProcess.Run(null, "related", "--model", f.SmallVocabModel, "--out", f.Dir["bad"], "--top", "1001");
        Assert.Equal(2, bigTop.ExitCode);
        Assert.Equal("error: --top 1001: must be at most 1000\nsee `engine related --help`", bigTop.StdErr.Trim());
        var badFormat = EngineProcess.Run(null, "related", "--model", f.SmallVocabModel, "--out", f.Dir["bad"], "--format", "csv");
        Assert.Equal(2, badFormat.ExitCode);
        Assert.Equal("error: --format: 'csv' is not one of packed, openai, both\nsee `engine related --help`", badFormat.StdErr.Trim());
    }

    /// <summary>
    /// related.json records the definition; a manifest written before --definition existed reads as direct-path (what
    /// those runs computed), so rerunning with the default (openai) into it is refused like any other setting; OpenAI's
    /// definition has no place for wpe[0].
    /// </summary>
    [Fact]
    public void TheDefinitionIsRecordedOlderManifestsAreDirectPathAndWpe0BelongsToTheDirectPath()
    {
        string dir = f.Dir["definition"];
        string[] args = ["related", "--model", f.SmallVocabModel, "--out", dir, "--device", "cpu", "--layers", "0", "--top", "3"];
        var direct = EngineProcess.Run(null, [.. args, "--definition", "direct-path"]);
        Assert.True(direct.ExitCode == 0, direct.StdErr);
        string path = RelatedManifest.PathIn(dir);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal("direct-path", (string)json["settings"]!["definition"]!);
        json["settings"]!.AsObject().Remove("definition"); // as an older engine wrote it
        File.WriteAllText(path, json.ToJsonString());
        Assert.Equal("direct-path", RelatedManifest.TryLoad(dir)!.Settings.Definition);
        using (var file = NeuronEngine.Format.SafeTensorsFile.Open(Path.Combine(dir, RelatedFiles.PackedFileName(0))))
            Assert.Equal("direct-path", file.Metadata["definition"]);

        var again = EngineProcess.Run(null, [.. args, "--definition", "direct-path"]);
        Assert.True(again.ExitCode == 0 && again.StdErr.Contains("nothing to do"), again.StdErr);
        var openAi = EngineProcess.Run(null, args);
        Assert.Equal(2, openAi.ExitCode);
        Assert.Equal($"error: {path}: this directory holds related tokens with a different definition (direct-path vs openai); use a new --out or delete it", openAi.StdErr.Trim());

        var wpe = EngineProcess.Run(null, "related", "--model", f.SmallVocabModel, "--out", f.Dir["wpe-openai"], "--device", "cpu", "--with-wpe0");
        Assert.Equal(2, wpe.ExitCode);
        Assert.Equal("error: --with-wpe0 belongs to --definition direct-path: OpenAI's definition reads wte alone, no position embedding", wpe.StdErr.Trim());
        Assert.False(Directory.Exists(f.Dir["wpe-openai"]));
        var unknown = EngineProcess.Run(null, [.. args, "--definition", "logit-lens"]);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Equal("error: --definition: 'logit-lens' is not one of openai, direct-path\nsee `engine related --help`", unknown.StdErr.Trim());
    }

    [Fact]
    public void AKilledRunKeepsItsCompleteLayers()
    {
        // A manifest listing layer 0 as done (as after a kill during layer 2): the rerun computes only layer 2.
        string dir = f.Dir["resume"];
        Assert.Equal(0, EngineCli.Run("related", "--model", f.SmallVocabModel, "--out", dir, "--device", "cpu", "--layers", "0", "--top", "4"));
        var m = RelatedManifest.TryLoad(dir)!;
        (m with { Settings = m.Settings with { Layers = [0, 2] }, Complete = false }).Save(dir);
        var before = File.GetLastWriteTimeUtc(Path.Combine(dir, RelatedFiles.PackedFileName(0)));
        var r = EngineProcess.Run(null, "related", "--model", f.SmallVocabModel, "--out", dir, "--device", "cpu", "--layers", "0,2", "--top", "4");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("(1 layer(s) kept from an earlier run)", r.StdErr);
        Assert.Equal(before, File.GetLastWriteTimeUtc(Path.Combine(dir, RelatedFiles.PackedFileName(0))));
        Assert.True(RelatedManifest.TryLoad(dir)!.Complete);
        Assert.True(File.Exists(Path.Combine(dir, RelatedFiles.PackedFileName(2))));
    }

    /// <summary>
    /// On a GPU (scripts/gpu-run.sh, `-trait device=cuda`): GPT-2 small's shape (cached synthetic preset), the first and
    /// last layer on CUDA against the `cpu` device — the same lists, values within 1e-4 relative (tokens may trade
    /// places only where the two values at a rank agree to 1e-5) — and the time per layer on each, in the test output.
    /// </summary>
    [CudaFact]
    public void CudaMatchesTheCpuDeviceOnGpt2SmallShape()
    {
        using var weights = Gpt2Weights.Open(SyntheticModelCache.GetOrCreate("gpt2"));
        using var cuda = RelatedDevices.Create("cuda", weights, RelatedDefinition.OpenAi, withPositionZero: false);
        using var cpu = new CpuRelatedTokens(weights, RelatedDefinition.OpenAi, withPositionZero: false);
        cuda.Compute(0, 10); // compiles the kernels
        foreach (int layer in new[] { 0, weights.Config.NLayer - 1 })
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var onCuda = cuda.Compute(layer, 20);
            double cudaSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var onCpu = cpu.Compute(layer, 20);
            output.WriteLine($"layer {layer}: cuda {cudaSeconds:F3} s, cpu {clock.Elapsed.TotalSeconds:F1} s " +
                $"({2.0 * 2 * weights.Config.VocabSize * weights.Config.NEmbd * weights.Config.DMlp / cudaSeconds / 1e12:F2} TFLOP/s on cuda)");
            foreach (var list in Enum.GetValues<RelatedList>())
                for (int i = 0; i < onCpu.Tokens[(int)list].Length; i++)
                {
                    float a = onCuda.Strengths[(int)list][i], e = onCpu.Strengths[(int)list][i];
                    Assert.True(Math.Abs(a - e) <= 1e-4 * Math.Abs(e), $"layer {layer} {list} slot {i}: cuda {a:R}, cpu {e:R}");
                    if (onCuda.Tokens[(int)list][i] != onCpu.Tokens[(int)list][i])
                        Assert.True(Math.Abs(a - e) <= 1e-5 * Math.Abs(e), $"layer {layer} {list} slot {i}: token {onCuda.Tokens[(int)list][i]} vs {onCpu.Tokens[(int)list][i]}");
                }
        }
    }

    [Fact]
    public void SelectTokensCompilesToPtx()
    {
        using var ptx = new PtxCompiler();
        string asm = ptx.CompileImplicit(PtxCompiler.Method(typeof(RelatedKernels), nameof(RelatedKernels.SelectTokens)));
        Assert.Contains(".entry", asm);
        Assert.DoesNotContain(".extern .func", asm);
        Assert.DoesNotContain("call", asm);
    }
}
