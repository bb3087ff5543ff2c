using NeuronEngine.Cli;
using NeuronEngine.Kernels;
using NeuronEngine.Records;
using NeuronEngine.Runtime.Records;
using NeuronEngine.Tests.Support;
using NeuronEngine.Numerics;

namespace NeuronEngine.Tests.Records;

/// <summary>
/// The ILGPU record collector on ILGPU's CPU accelerator against the managed collector fed the same activations
/// (selections exact, moments to 1e-12 relative), its kernels compiled to PTX, and `engine records --device ilgpu-cpu`
/// against brute force over `engine dump --device ilgpu-cpu`.
/// </summary>
public class DeviceRecordCollectorTests(RecordsFixture f) : IClassFixture<RecordsFixture>, IDisposable
{
    private readonly CpuAcceleratorFixture _cpu = new();

    public void Dispose() => _cpu.Dispose();

    [Fact]
    public void DeviceCollectorEqualsTheCpuCollectorOnTheSameActivationsAcrossARestore() =>
        DeviceCollectorEqualsTheCpuCollector(_cpu.Accelerator);

    /// <summary>The check above on <paramref name="accelerator"/> (the CPU emulator here, OpenCL in the OpenCL tests).</summary>
    internal static void DeviceCollectorEqualsTheCpuCollector(ILGPU.Runtime.Accelerator accelerator)
    {
        var shape = new RecordShape(Neurons: 12, SeqLen: 5, TopK: 3, RandomCount: 2, PerBand: 2, Seed: 99);
        var rng = new Random(1);
        // Quantised values (steps of 0.25, negatives and −0 included) so that window maxima tie across windows: the tie rule matters.
        float Next() => rng.Next(-8, 9) is var k && k == 0 && rng.Next(2) == 0 ? -0f : k * 0.25f;
        var boundaries = new Dictionary<int, float[]>
        {
            [1] = Enumerable.Range(0, 12).SelectMany(_ => new[] { -0.5f, 0.25f, 1f, 1.75f }).ToArray(),
            [4] = new float[12 * RecordShape.Boundaries],
        };
        var cpu = new CpuRecordCollector(shape, boundaries);
        var device = new IlgpuRecordCollector(accelerator, shape, boundaries);
        long first = 0;
        foreach (int windows in new[] { 4, 1, 7, 3 })
        {
            if (first == 5)
            {
                // Halfway, continue on a new collector restored from the first one's state (a resumed checkpoint).
                var state = device.Collect();
                device.Dispose();
                device = new IlgpuRecordCollector(accelerator, shape, boundaries);
                device.Restore(state);
            }
            foreach (int layer in new[] { 1, 4 })
            {
                var acts = Enumerable.Range(0, windows * 5 * 12).Select(_ => Next()).ToArray();
                cpu.OnMlpActivations(layer, first, windows, 5, acts);
                device.OnMlpActivations(layer, first, windows, 5, acts);
            }
            first += windows;
        }
        var fromDevice = device.Collect();
        device.Dispose();
        Assert.Equal([1, 4], fromDevice.Select(s => s.Layer));
        foreach (var d in fromDevice)
        {
            var c = cpu.Layers[d.Layer];
            foreach (var (a, b) in new[] { (c.Top, d.Top), (c.Random, d.Random), (c.Quantile, d.Quantile) })
                for (int g = 0; g < a.Groups; g++)
                {
                    Assert.Equal(a.Sorted(g).Select(s => a.Keys[g * a.Capacity + s]), b.Sorted(g).Select(s => b.Keys[g * b.Capacity + s]));
                    Assert.Equal(a.Sorted(g).SelectMany(s => a.SlotActivations(g, s).ToArray()), b.Sorted(g).SelectMany(s => b.SlotActivations(g, s).ToArray()));
                }
            Assert.Equal(c.Boundaries, d.Boundaries);
            for (int i = 0; i < c.Moments.Length; i++) RecordsFixture.AssertClose(c.Moments[i], d.Moments[i], 1e-12, $"moment {i}");
            Assert.True(c.Top.Keys.Count(k => k != RecordKeys.Empty) == 12 * 3, "every top slot should be filled");
        }
    }

    /// <summary>
    /// RecordKeys is one source file compiled into both Engine.Core and Engine.Kernels (kernels/Engine.Kernels/Shared);
    /// the two copies differ only in FloatBits (ILGPU's Interop in the kernels, BitConverter in Core). The kernels' copy
    /// is internal, so it is reached by reflection here and compared with Core's on random floats, −0 and the salts.
    /// </summary>
    [Fact]
    public void TheKernelsCopyOfTheKeyMathEqualsCores()
    {
        var kernelKeys = typeof(RecordKernels).Assembly.GetType(typeof(RecordKeys).FullName!, throwOnError: true)!;
        Assert.NotSame(typeof(RecordKeys), kernelKeys);
        var topKey = kernelKeys.GetMethod(nameof(RecordKeys.TopKey))!.CreateDelegate<Func<float, uint, ulong>>();
        var lowKey = kernelKeys.GetMethod(nameof(RecordKeys.LowKey))!.CreateDelegate<Func<float, uint, ulong>>();
        var hash = kernelKeys.GetMethod(nameof(RecordKeys.Hash))!.CreateDelegate<Func<ulong, int, int, uint, uint, uint>>();
        var rng = new Random(5);
        for (int i = 0; i < 10_000; i++)
        {
            float v = BitConverter.Int32BitsToSingle(rng.Next(int.MinValue, int.MaxValue));
            if (float.IsNaN(v)) continue;
            uint w = (uint)rng.Next();
            Assert.Equal(RecordKeys.TopKey(v, w), topKey(v, w));
            Assert.Equal(RecordKeys.LowKey(v, w), lowKey(v, w));
            Assert.Equal(RecordKeys.TopKey(-0f, w), topKey(-0f, w));
            Assert.Equal(RecordKeys.TopKey(0f, w), RecordKeys.TopKey(-0f, w));
            ulong seed = (ulong)rng.NextInt64();
            int neuron = rng.Next(6400);
            foreach (uint salt in new[] { RecordKeys.QuantileSalt, RecordKeys.RandomSalt })
                Assert.Equal(RecordKeys.Hash(seed, i % 48, neuron, w, salt), hash(seed, i % 48, neuron, w, salt));
        }
    }

    [Theory]
    [InlineData(nameof(RecordKernels.WindowMax))]
    [InlineData(nameof(RecordKernels.WindowMoments))]
    [InlineData(nameof(RecordKernels.MergeMoments))]
    [InlineData(nameof(RecordKernels.SelectTop))]
    [InlineData(nameof(RecordKernels.SelectRandom))]
    [InlineData(nameof(RecordKernels.SelectQuantile))]
    public void KernelCompilesToPtx(string kernel)
    {
        using var ptx = new PtxCompiler();
        string asm = ptx.CompileImplicit(PtxCompiler.Method(typeof(RecordKernels), kernel));
        Assert.Contains(".entry", asm);
        Assert.DoesNotContain(".extern .func", asm);
        Assert.DoesNotContain("call", asm);
    }

    [Fact]
    public void RecordsOnIlgpuCpuEqualBruteForceOverAnIlgpuCpuDump() => RecordsEqualBruteForceOverADump(f, "ilgpu-cpu");

    /// <summary>`engine records --device D` against brute force over `engine dump --device D` of the same windows.</summary>
    internal static void RecordsEqualBruteForceOverADump(RecordsFixture f, string device)
    {
        string dump = f.Dir[device + "-bf-dump"], records = f.Dir[device + "-bf-records"];
        Assert.Equal(0, EngineCli.Run("dump", "--model", f.Model, "--corpus", f.Corpus, "--out", dump, "--device", device,
            "--seq-len", $"{RecordsFixture.SeqLen}", "--layers", "1", "--max-windows", "20", "--batch", "10"));
        Assert.Equal(0, EngineCli.Run(f.RecordsArgs(records, "--format", "packed", "--device", device, "--layers", "1", "--max-windows", "20", "--batch", "10",
            "--token-lookup", "5", "--token-lookup-min-count", "2")));
        var (manifest, states, _) = RecordsOutput.ReadPacked(records);
        Assert.Equal(device, manifest.Settings.Device);
        var bruteForce = new BruteForceRecords(dump);
        f.AssertMatchesBruteForce(states.Single(), Enumerable.Range(0, 20), 1e-9, bruteForce);
        // The token lookup (a host sink) gets the device's activations downloaded next to the device collector.
        TokenLookupTests.AssertMatchesBruteForce(records, bruteForce, 1, 5, 2, 20);
    }
}
