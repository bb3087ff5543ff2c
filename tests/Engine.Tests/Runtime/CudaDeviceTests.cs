using NeuronEngine.Cpu;
using NeuronEngine.Model;
using NeuronEngine.Records;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Scoring;
using NeuronEngine.Runtime.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Cpu;
using NeuronEngine.Tests.Records;
using NeuronEngine.Tests.Scoring;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Runtime;

/// <summary>
/// The checks that need a real GPU, at the sizes the engine runs (skipped, and reported as skipped, without CUDA;
/// scripts/gpu-run.sh runs them on the GPU box with `-trait device=cuda`): the whole forward pass on GPT-2 small's
/// shape against the `cpu` device, the device record collector against the managed one, and the device scorer
/// against the double-precision CPU scorer.
/// </summary>
public class CudaDeviceTests
{
    /// <summary>
    /// Synthetic weights of GPT-2 small's shape (12 × 768, 50,257 tokens; the cached preset), 4 windows × 64 tokens,
    /// every layer: max |cuda − cpu| ≤ 1e-4 absolute (the bound the `ilgpu-cpu` forward test uses; the kernels sum in
    /// another order than the CPU's register-blocked GEMM).
    /// </summary>
    [CudaFact]
    public void CudaForwardOnGpt2SmallShapeMatchesTheCpuDevice()
    {
        using var weights = Gpt2Weights.Open(SyntheticModelCache.GetOrCreate("gpt2"));
        int layers = weights.Config.NLayer;
        int[] all = [.. Enumerable.Range(0, layers)];
        var tokens = CpuForwardTests.RandomTokens(17, 4 * 64, weights.Config.VocabSize);
        var expected = new CpuForwardTests.CollectingSink();
        new CpuDevice(weights).Run(tokens, 4, 64, all, expected, 0);
        var actual = new CpuForwardTests.CollectingSink();
        using (var device = DeviceCatalog.Create("cuda", weights)) device.Run(tokens, 4, 64, all, actual, 0);
        foreach (int layer in all)
        {
            double worst = expected.ByLayer[layer].Zip(actual.ByLayer[layer], (e, a) => Math.Abs(e - a)).Max();
            Assert.True(worst <= 1e-4, $"layer {layer}: max |cuda − cpu| = {worst}");
        }
    }

    /// <summary>
    /// The device collector on CUDA fed GPT-2-sized layers (3072 neurons × 64 tokens, 40 windows in uneven batches)
    /// against the managed collector fed the same activations: selections bit for bit, moments to 1e-9 relative.
    /// </summary>
    [CudaFact]
    public void CudaRecordCollectorEqualsTheManagedCollector()
    {
        var cuda = IlgpuContexts.TryCreateCuda()!.Value;
        using var context = cuda.Context;
        using var accelerator = cuda.Accelerator;
        const int neurons = 3072, seq = 64;
        var shape = new RecordShape(Neurons: neurons, SeqLen: seq, TopK: 20, RandomCount: 20, PerBand: 5, Seed: 3);
        var rng = new Random(8);
        var boundaries = new Dictionary<int, float[]>
        {
            [0] = Enumerable.Range(0, neurons).SelectMany(_ => new[] { -0.1f, 0.2f, 0.8f, 1.6f }).ToArray(),
        };
        var cpu = new CpuRecordCollector(shape, boundaries);
        using var device = new IlgpuRecordCollector(accelerator, shape, boundaries);
        long first = 0;
        foreach (int windows in new[] { 16, 3, 21 })
        {
            // GELU-like values: mostly small negatives, a heavy positive tail, quantised so that window maxima tie.
            var acts = Enumerable.Range(0, windows * seq * neurons)
                .Select(_ => MathF.Round(MathF.Max(-0.17f, (float)(rng.NextDouble() * rng.NextDouble() * 4 - 0.5)) * 64) / 64).ToArray();
            cpu.OnMlpActivations(0, first, windows, seq, acts);
            device.OnMlpActivations(0, first, windows, seq, acts);
            first += windows;
        }
        var d = Assert.Single(device.Collect());
        var c = cpu.Layers[0];
        foreach (var (a, b) in new[] { (c.Top, d.Top), (c.Random, d.Random), (c.Quantile, d.Quantile) })
            for (int g = 0; g < a.Groups; g++)
            {
                Assert.Equal(a.Sorted(g).Select(s => a.Keys[g * a.Capacity + s]), b.Sorted(g).Select(s => b.Keys[g * b.Capacity + s]));
                Assert.Equal(a.Sorted(g).SelectMany(s => a.SlotActivations(g, s).ToArray()), b.Sorted(g).SelectMany(s => b.SlotActivations(g, s).ToArray()));
            }
        for (int i = 0; i < c.Moments.Length; i++) RecordsFixture.AssertClose(c.Moments[i], d.Moments[i], 1e-9, $"moment {i}");
    }

    /// <summary>3000 random neurons scored on CUDA against the double-precision CPU scorer, 1e-6 absolute per score.</summary>
    [CudaFact]
    public void CudaScorerMatchesTheDoublePrecisionScorer()
    {
        var cuda = IlgpuContexts.TryCreateCuda()!.Value;
        using var context = cuda.Context;
        using var accelerator = cuda.Accelerator;
        using var scorer = new IlgpuBatchScorer(accelerator);
        var random = new Random(20231201);
        var builder = new ScoringBatchBuilder();
        for (int i = 0; i < 3000; i++)
        {
            var (sequences, top) = CpuBatchScorerTests.RandomNeuron(random);
            builder.AddNeuron(sequences, top);
        }
        var batch = builder.Build();
        Assert.True(IlgpuBatchScorerChecks.AssertMatchesCpu(batch, scorer.Score(batch)) > 1000);
    }
}
