using System.Diagnostics;
using NeuronEngine.Corpus;
using NeuronEngine.Forward;
using NeuronEngine.IO;
using NeuronEngine.OpenAi;
using NeuronEngine.Text;

namespace NeuronEngine.Ablation;

/// <summary>
/// One `engine ablate` run: the ablation values (one pass over the windows for every requested layer's neuron means, or
/// zero), then each layer's neurons measured (<see cref="AblationMeasure"/>) and written atomically before the layer is
/// listed in ablation.json, so a killed run continues with its first missing layer; a directory holding other settings
/// is refused.
/// </summary>
public sealed class AblationRun(IForwardDevice device, AblationSettings settings, TokenWindows corpus, string dir, int perBatch)
{
    public TimeSpan ComputeTime { get; private set; }
    public int LayersComputed { get; private set; }
    public int LayersKept { get; private set; }

    /// <summary>False when the directory already held this complete result.</summary>
    public bool Run(IProgress<RunProgress>? progress = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(dir);
        var existing = AblationManifest.TryLoad(dir);
        if (existing is null)
        {
            var stranger = OutputDirectory.ForeignEntries(dir, n => IsOutputEntry(Path.Combine(dir, n))).FirstOrDefault();
            if (stranger is not null)
                throw new InvalidDataException($"{dir}: the directory holds other files ({stranger}) and no {AblationManifest.FileName}; use a new --out");
        }
        else
        {
            if (existing.Settings.FirstDifference(settings) is { } diff)
                throw new InvalidDataException($"{AblationManifest.PathIn(dir)}: this directory holds ablations with a different {diff}; use a new --out or delete it");
            if (existing.Complete) return false;
        }
        var done = existing?.LayersDone.Where(settings.Layers.Contains).ToList() ?? [];
        LayersKept = done.Count;
        AblationManifest Manifest(bool complete) => new() { Settings = settings, Device = device.Name, LayersDone = [.. done], Complete = complete };
        Manifest(false).Save(dir);

        var todo = settings.Layers.Where(l => !done.Contains(l)).ToList();
        var windows = settings.Windows.Select(corpus.Window).ToList();
        long perLayer = (long)windows.Count * ((settings.Neurons.Length + perBatch - 1) / perBatch), total = perLayer * todo.Count, batches = 0;
        progress?.Report(new RunProgress(0, total));
        var clock = Stopwatch.StartNew();
        var means = settings.Ablation == "mean" && todo.Count > 0 ? NeuronMeans.Of(device, windows, todo, settings.SeqLen, settings.NeuronsPerLayer, cancel) : null;
        var tokenizer = Gpt2Tokenizer.Load();
        var measure = new AblationMeasure(device, settings.VocabSize, settings.SeqLen);
        var metadata = new Dictionary<string, string> { ["model"] = settings.Model, ["ablation"] = settings.Ablation, ["device"] = device.Name };
        foreach (int layer in todo)
        {
            var values = settings.Neurons.Select(n => means is null ? 0f : (float)means[layer][n]).ToArray();
            var effects = measure.Measure(layer, settings.Neurons, values, windows, perBatch, () => progress?.Report(new RunProgress(++batches, total)), cancel);
            AblationFiles.WritePacked(Path.Combine(dir, AblationFiles.PackedFileName(layer)), layer, effects, settings.Top, metadata);
            NeuronFileLayout.WriteEachNeuron(effects.Length, i => AblationFiles.SummaryJson.Write(AblationFiles.OpenAiPath(dir, layer, effects[i].Neuron),
                AblationFiles.ToSummary(effects[i], settings.Ablation, windows.Count, settings.Top, tokenizer)));
            done.Add(layer);
            LayersComputed++;
            Manifest(false).Save(dir);
        }
        ComputeTime = clock.Elapsed;
        Manifest(true).Save(dir);
        return true;
    }

    private static bool IsOutputEntry(string path) => NeuronFileLayout.IsLayerOutput(path) || Path.GetFileName(path) == AblationManifest.FileName;
}

/// <summary>Each neuron's mean activation over every position of the windows (the mean-ablation value), for several layers in one pass.</summary>
internal sealed class NeuronMeans : IMlpActivationSink
{
    private readonly Dictionary<int, double[]> _sums = [];
    private long _positions;

    public static Dictionary<int, double[]> Of(IForwardDevice device, IReadOnlyList<int[]> windows, IReadOnlyCollection<int> layers, int seqLen, int neurons,
        CancellationToken cancel = default)
    {
        var sink = new NeuronMeans();
        foreach (int l in layers) sink._sums[l] = new double[neurons];
        foreach (var tokens in windows)
        {
            cancel.ThrowIfCancellationRequested();
            device.Run(tokens, 1, seqLen, new ForwardRequest { Layers = layers, Sink = sink });
            sink._positions += seqLen;
        }
        return sink._sums.ToDictionary(kv => kv.Key, kv => kv.Value.Select(s => s / sink._positions).ToArray());
    }

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        var sums = _sums[layer];
        int width = sums.Length;
        for (int r = 0; r < windows * seqLen; r++)
            for (int n = 0; n < width; n++) sums[n] += activations[r * width + n];
    }
}
