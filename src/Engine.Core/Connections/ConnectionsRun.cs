using System.Diagnostics;
using NeuronEngine.IO;
using NeuronEngine.OpenAi;
using NeuronEngine.Related;

namespace NeuronEngine.Connections;

/// <summary>
/// One `engine connections` run. Every layer pair (l₁ &lt; l₂) that involves a selected layer is computed once, source
/// layer by source layer (l₁ = 0, 1, …): its product feeds the downstream lists of l₁'s neurons (complete at the end
/// of l₁'s row) and the upstream lists of l₂'s (complete once every earlier row is done), so layers finish in order.
/// At the end of each row the finished layer's files are written (atomically), then the upstream lists gathered for
/// the layers still to come go to a checkpoint, then connections.json names it; a killed run continues with the next
/// row when rerun, and a directory holding other settings is refused.
/// </summary>
public sealed class ConnectionsRun(IConnectionsDevice device, ConnectionsSettings settings, string dir)
{
    public TimeSpan ComputeTime { get; private set; }
    public TimeSpan WriteTime { get; private set; }
    public int PairsComputed { get; private set; }
    public int LayersKept { get; private set; }

    /// <summary>The layer pairs a run over <paramref name="layers"/> computes, in order: (l₁, l₂), l₁ &lt; l₂, either selected.</summary>
    public static IEnumerable<(int Source, int[] Targets)> Rows(IReadOnlyCollection<int> layers, int modelLayers, int firstSource = 0)
    {
        if (layers.Count == 0) yield break;
        for (int source = firstSource; source <= layers.Max(); source++)
        {
            bool selected = layers.Contains(source);
            var targets = Enumerable.Range(source + 1, modelLayers - source - 1).Where(t => selected || layers.Contains(t)).ToArray();
            if (selected || targets.Length > 0) yield return (source, targets);
        }
    }

    /// <summary>False when the directory already held this complete result.</summary>
    public bool Run(IProgress<RunProgress>? progress = null)
    {
        Directory.CreateDirectory(dir);
        var existing = ConnectionsManifest.TryLoad(dir);
        if (existing is null)
        {
            var stranger = IO.OutputDirectory.ForeignEntries(dir, n => IsOutputEntry(Path.Combine(dir, n))).FirstOrDefault();
            if (stranger is not null)
                throw new InvalidDataException($"{dir}: the directory holds other files ({stranger}) and no {ConnectionsManifest.FileName}; use a new --out");
        }
        else
        {
            if (existing.Settings.FirstDifference(settings) is { } diff)
                throw new InvalidDataException($"{ConnectionsManifest.PathIn(dir)}: this directory holds connections with a different {diff}; use a new --out or delete it");
            if (existing.Complete) return false;
        }
        int n = settings.NeuronsPerLayer, top = settings.Top;
        var selected = settings.Layers.ToHashSet();
        int sourcesDone = existing?.SourceLayersDone ?? 0;
        var done = existing?.LayersDone.Where(l => selected.Contains(l) && l < sourcesDone).ToList() ?? [];
        LayersKept = done.Count;
        // The upstream lists of the selected layers still to come: from the checkpoint, or empty.
        var pendingLayers = settings.Layers.Where(l => l >= sourcesDone).ToList();
        var pending = existing?.UpstreamCheckpoint is { } checkpoint && sourcesDone > 0
            ? ConnectionsFiles.ReadCheckpoint(Path.Combine(dir, checkpoint), pendingLayers, n, top)
            : pendingLayers.ToDictionary(l => l, _ => new TopAndBottom(n, top));
        string? checkpointName = existing?.UpstreamCheckpoint;
        foreach (var stale in Directory.EnumerateFiles(dir).Select(Path.GetFileName).Where(f => ConnectionsFiles.IsCheckpoint(f!) && f != checkpointName))
            File.Delete(Path.Combine(dir, stale!));

        string deviceName = existing is null || existing.Device == device.Name || sourcesDone == 0 ? device.Name : $"{existing.Device}+{device.Name}";
        ConnectionsManifest Manifest(bool complete) => new()
        {
            Settings = settings, Device = deviceName, LayersDone = [.. done], SourceLayersDone = sourcesDone,
            UpstreamCheckpoint = complete ? null : checkpointName, Complete = complete,
        };
        Manifest(false).Save(dir);

        var rows = Rows(selected, settings.ModelLayers, sourcesDone).ToList();
        long total = rows.Sum(r => (long)r.Targets.Length), pairs = 0;
        progress?.Report(new RunProgress(0, total));
        var metadata = new Dictionary<string, string>
        {
            ["model"] = settings.Model,
            ["definition"] = "openai",
            ["device"] = device.Name,
            ["precision"] = settings.Precision,
        };
        foreach (var (source, targets) in rows)
        {
            var clock = Stopwatch.StartNew();
            var downstream = selected.Contains(source) ? new TopAndBottom(n, top) : null;
            device.Row(source, targets, top, downstream, t => pending.GetValueOrDefault(t), () => progress?.Report(new RunProgress(++pairs, total)));
            PairsComputed += targets.Length;
            ComputeTime += clock.Elapsed;
            clock.Restart();
            if (downstream is not null)
            {
                var result = ConnectionsLayer.From(source, n, top, pending[source], downstream);
                pending.Remove(source);
                if (settings.WritesPacked) ConnectionsFiles.WritePacked(Path.Combine(dir, ConnectionsFiles.PackedFileName(source)), result, metadata);
                if (settings.WritesJson)
                    NeuronFileLayout.WriteEachNeuron(result.Neurons, neuron =>
                        ConnectionsFiles.NeuronJson.Write(ConnectionsFiles.JsonPath(dir, source, neuron), ConnectionsFiles.ToJson(result, neuron)));
                done.Add(source);
            }
            sourcesDone = source + 1;
            string? previous = checkpointName;
            checkpointName = null;
            if (pending.Count > 0)
            {
                checkpointName = ConnectionsFiles.CheckpointFileName(sourcesDone);
                ConnectionsFiles.WriteCheckpoint(Path.Combine(dir, checkpointName), pending, sourcesDone);
            }
            Manifest(false).Save(dir);
            if (previous is not null && previous != checkpointName) File.Delete(Path.Combine(dir, previous));
            WriteTime += clock.Elapsed;
        }
        Manifest(true).Save(dir);
        return true;
    }

    private static bool IsOutputEntry(string path) => NeuronFileLayout.IsLayerOutput(path)
        || Path.GetFileName(path) == ConnectionsManifest.FileName || ConnectionsFiles.IsCheckpoint(Path.GetFileName(path));
}
