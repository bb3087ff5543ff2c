using System.CommandLine;
using NeuronEngine.Ablation;
using NeuronEngine.Forward;
using NeuronEngine.Model;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine ablate`: per MLP neuron, what mean- (or zero-) ablating it does to the model's next-token predictions over
/// the corpus's windows — Δloss, KL, and the output tokens it promotes and suppresses through the whole network.
/// docs/ablation.md.
/// </summary>
public static class AblateCommand
{
    public static readonly string[] Ablations = ["mean", "zero"];

    public static Command Create()
    {
        var p = new CorpusPassOptions();
        var outDir = CommonOptions.Out("output directory (layer-{L}.safetensors, {layer}/{neuron}.json, ablation.json)");
        var neurons = new Option<string>("--neurons") { Description = "neurons of each layer (e.g. 0-99,512), or all", DefaultValueFactory = _ => "all" };
        var top = CommonOptions.AtMost(CommonOptions.AtLeast(new Option<int>("--top") { Description = "promoted / suppressed tokens per neuron", DefaultValueFactory = _ => 10 }, 1), 1000);
        var ablation = CommonOptions.OneOf(new Option<string>("--ablation") { Description = "mean: the neuron's mean activation over the windows; zero: 0", DefaultValueFactory = _ => "mean" }, Ablations);
        var sample = CommonOptions.AtLeast(new Option<long?>("--sample-windows") { Description = "a seeded sample of this many windows (with --seed) instead of the first ones" }, 1);
        var seed = CommonOptions.Seed("the window sample");
        var cmd = new Command("ablate", "per neuron: the change in next-token loss, the KL and the output tokens promoted / suppressed when the neuron is ablated")
        {
            p.Model, p.Preset, p.ModelSeed, p.Corpus, outDir, p.Layers, neurons, p.SeqLen, p.MaxWindows, sample, seed, ablation, top, p.Batch, p.Device, p.Precision,
        };
        cmd.SetAction((r, cancel) =>
        {
            var gemm = p.GemmPrecision(r);
            if (r.GetValue(sample) is not null && r.GetValue(p.MaxWindows) is not null)
                throw new ArgumentException("--sample-windows and --max-windows choose the windows two ways; give one");
            using var inputs = p.OpenInputs(r);
            var c = inputs.Config;
            var neuronSet = LayerSelection.ParseIndexSet(r.GetValue(neurons), "--neurons");
            if (neuronSet is { Count: > 0 } && neuronSet.Max >= c.DMlp)
                throw new ArgumentException($"--neurons: '{neuronSet.Max}' is outside the model's neurons 0-{c.DMlp - 1}");
            int[] selected = neuronSet?.ToArray() ?? Enumerable.Range(0, c.DMlp).ToArray();
            long[] windows = r.GetValue(sample) is long n
                ? SampleWindows(inputs.Windows.Count, n, r.GetValue(seed))
                : Enumerable.Range(0, (int)inputs.Windows.Count).Select(i => (long)i).ToArray();
            var settings = new AblationSettings
            {
                Model = inputs.ModelName, ModelFingerprint = inputs.ModelFingerprint, Corpus = inputs.Corpus, CorpusFingerprint = inputs.CorpusFingerprint,
                SeqLen = inputs.Windows.SeqLen, Windows = windows, Layers = inputs.Layers, Neurons = selected, Ablation = r.GetValue(ablation)!,
                Top = Math.Min(r.GetValue(top), c.VocabSize), Precision = gemm.Name(), NeuronsPerLayer = c.DMlp, VocabSize = c.VocabSize,
            };
            using var device = p.OpenDevice(r, inputs.Weights, gemm);
            int perBatch = Math.Max(1, p.BatchWindows(r, device) - 1);   // + the real run: one batch of --batch elements
            string dir = r.GetValue(outDir)!;
            var run = new AblationRun(device, settings, inputs.Windows, dir, perBatch);
            bool ran = ConsoleProgress.Run("ablate", "batches", progress => run.Run(progress, cancel));
            if (!ran)
            {
                Console.Error.WriteLine($"ablate: {dir} already holds these complete ablations; nothing to do");
                return Task.FromResult(CommandRunner.Done);
            }
            long measured = (long)selected.Length * run.LayersComputed;
            Console.Error.WriteLine($"ablate: layers {LayerSelection.Format(inputs.Layers)} × {selected.Length} neurons, {settings.Ablation}-ablated over {windows.Length} windows of {settings.SeqLen}, on {device.Name} ({settings.Precision})" +
                (run.LayersKept > 0 ? $" ({run.LayersKept} layer(s) kept from an earlier run)" : "") + $": {dir}");
            if (measured > 0)
                Console.Error.WriteLine($"ablate: {run.ComputeTime.TotalSeconds:F2} s, {run.ComputeTime.TotalMilliseconds / measured:F1} ms per neuron");
            return Task.FromResult(CommandRunner.Done);
        });
        return cmd;
    }

    /// <summary>n distinct windows of [0, count) drawn with a seeded generator, in ascending order (all of them if n ≥ count).</summary>
    public static long[] SampleWindows(long count, long n, ulong seed)
    {
        if (n >= count) return Enumerable.Range(0, (int)count).Select(i => (long)i).ToArray();
        var rng = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        var chosen = new HashSet<long>();
        while (chosen.Count < n) chosen.Add(rng.NextInt64(count));
        return chosen.Order().ToArray();
    }
}
