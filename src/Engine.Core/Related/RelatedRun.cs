using System.Diagnostics;
using System.Globalization;
using NeuronEngine.Dump;
using NeuronEngine.OpenAi;
using NeuronEngine.Text;
using NeuronEngine.IO;

namespace NeuronEngine.Related;

/// <summary>
/// One `engine related` run: computes the requested layers one after the other on <paramref name="device"/> and
/// writes each layer's files (atomically) before listing it in related.json, so a killed run continues with its
/// first missing layer; a directory holding other settings is refused.
/// </summary>
public sealed class RelatedRun(IRelatedTokensDevice device, RelatedSettings settings, string dir)
{
    public TimeSpan ComputeTime { get; private set; }
    public TimeSpan WriteTime { get; private set; }
    public int LayersComputed { get; private set; }
    public int LayersKept { get; private set; }

    /// <summary>False when the directory already held this complete result.</summary>
    public bool Run(IProgress<RunProgress>? progress = null)
    {
        Directory.CreateDirectory(dir);
        var existing = RelatedManifest.TryLoad(dir);
        if (existing is null)
        {
            var stranger = IO.OutputDirectory.ForeignEntries(dir, n => IsOutputEntry(Path.Combine(dir, n))).FirstOrDefault();
            if (stranger is not null)
                throw new InvalidDataException($"{dir}: the directory holds other files ({stranger}) and no {RelatedManifest.FileName}; use a new --out");
        }
        else
        {
            if (existing.Settings.FirstDifference(settings) is { } diff)
                throw new InvalidDataException($"{RelatedManifest.PathIn(dir)}: this directory holds related tokens with a different {diff}; use a new --out or delete it");
            if (existing.Complete) return false;
        }
        var done = existing?.LayersDone.Where(settings.Layers.Contains).ToList() ?? [];
        LayersKept = done.Count;
        string deviceName = existing is null || existing.Device == device.Name || done.Count == 0 ? device.Name : $"{existing.Device}+{device.Name}";
        RelatedManifest Manifest(bool complete) => new() { Settings = settings, Device = deviceName, LayersDone = [.. done], Complete = complete };
        Manifest(false).Save(dir);

        var todo = settings.Layers.Where(l => !done.Contains(l)).ToList();
        long total = (long)todo.Count * device.ChunksPerLayer, chunks = 0;
        progress?.Report(new RunProgress(0, total));
        var tokenizer = settings.WritesOpenAi ? Gpt2Tokenizer.Load() : null;
        var metadata = new Dictionary<string, string>
        {
            ["model"] = settings.Model,
            ["definition"] = settings.Definition,
            ["with_wpe0"] = settings.WithPositionZero ? "true" : "false",
            ["device"] = device.Name,
        };
        foreach (int layer in todo)
        {
            var clock = Stopwatch.StartNew();
            var result = device.Compute(layer, settings.Top, () => progress?.Report(new RunProgress(++chunks, total)));
            ComputeTime += clock.Elapsed;
            clock.Restart();
            if (settings.WritesPacked) RelatedFiles.WritePacked(Path.Combine(dir, RelatedFiles.PackedFileName(layer)), result, metadata);
            if (tokenizer is not null)
                NeuronFileLayout.WriteEachNeuron(result.Neurons, n =>
                    RelatedFiles.WriteOpenAi(RelatedFiles.OpenAiPath(dir, layer, n), RelatedFiles.ToSummary(result, n, tokenizer)));
            WriteTime += clock.Elapsed;
            done.Add(layer);
            LayersComputed++;
            Manifest(false).Save(dir);
        }
        Manifest(true).Save(dir);
        return true;
    }

    /// <summary>
    /// <paramref name="withPositionZero"/> when the definition has a place for wpe[0]; OpenAI's reads wte alone, so
    /// `--with-wpe0` with it is refused rather than ignored.
    /// </summary>
    public static bool CheckPositionZero(RelatedDefinition definition, bool withPositionZero) =>
        withPositionZero && definition == RelatedDefinition.OpenAi
            ? throw new ArgumentException("--with-wpe0 belongs to --definition direct-path: OpenAI's definition reads wte alone, no position embedding")
            : withPositionZero;

    private static bool IsOutputEntry(string path) => NeuronFileLayout.IsLayerOutput(path) || Path.GetFileName(path) == RelatedManifest.FileName;

    public static string Describe(IEnumerable<int> layers) => string.Join(",", layers.Select(l => l.ToString(CultureInfo.InvariantCulture)));
}
