using System.Text.Json;
using System.Text.Json.Serialization;
using NeuronEngine.IO;
using NeuronEngine.Pass;

namespace NeuronEngine.Records;

/// <summary>
/// Mid-pass checkpoints of a records run, so a killed run resumes instead of restarting: the collector's whole state
/// after window <see cref="CheckpointPointer.NextWindow"/> − 1, as packed layer files in OUT/checkpoint-{next}/, and
/// OUT/checkpoint.json naming that folder, written atomically after every file in it. A kill at any moment leaves
/// either the previous complete checkpoint or the new one. Resuming feeds the remaining windows in the same order to
/// the restored state, so the result is bit-identical to an uninterrupted run (the moments are a sequential sum).
/// Removed once the run's outputs are complete.
/// </summary>
internal static class RecordsCheckpoint
{
    public const string FileName = "checkpoint.json";
    private const string DirectoryPrefix = "checkpoint-";

    public sealed record CheckpointPointer(
        [property: JsonPropertyName("settings")] RecordsSettings Settings,
        [property: JsonPropertyName("windows")] WindowRange Windows,
        [property: JsonPropertyName("next_window")] long NextWindow,
        [property: JsonPropertyName("directory")] string Directory);

    public static bool IsCheckpointEntry(string name) => name == FileName || name.StartsWith(DirectoryPrefix, StringComparison.Ordinal);

    /// <summary>Saves the records' state and, with `--token-lookup`, the lookup's (<see cref="TokenLookupFiles.StateFileName"/>) before the pointer.</summary>
    public static void Save(string outDir, RecordsSettings settings, WindowRange range, long nextWindow, IReadOnlyList<LayerRecordState> states,
        TokenLookupCollector? lookup = null)
    {
        string name = DirectoryPrefix + nextWindow.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string dir = Path.Combine(outDir, name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        foreach (var s in states)
            PackedRecordsFile.Write(Path.Combine(dir, PackedRecordsFile.FileName(s.Layer)), s, new Dictionary<string, string> { ["checkpoint_next_window"] = $"{nextWindow}" });
        lookup?.Save(Path.Combine(dir, TokenLookupFiles.StateFileName));
        AtomicFile.WriteAllText(Path.Combine(outDir, FileName), JsonSerializer.Serialize(new CheckpointPointer(settings, range, nextWindow, name)));
        RemoveFolders(outDir, keep: name);
    }

    /// <summary>
    /// The checkpoint of this exact run (same settings and windows), or null; a stale or unreadable one is ignored.
    /// <c>Directory</c> is its folder (where <see cref="TokenLookupFiles.StateFileName"/> lies when the run has one).
    /// </summary>
    public static (long NextWindow, List<LayerRecordState> States, string Directory)? TryLoad(string outDir, RecordsSettings settings, WindowRange range)
    {
        string path = Path.Combine(outDir, FileName);
        if (!File.Exists(path)) return null;
        CheckpointPointer? pointer;
        try { pointer = JsonSerializer.Deserialize<CheckpointPointer>(File.ReadAllText(path)); }
        catch (JsonException) { return null; }
        if (pointer is null || pointer.Settings.FirstDifference(settings) is not null || pointer.Windows != range
            || pointer.NextWindow < range.First || pointer.NextWindow > range.End || !IsCheckpointEntry(pointer.Directory))
            return null;
        string dir = Path.Combine(outDir, pointer.Directory);
        var states = settings.Layers.Select(l => PackedRecordsFile.Read(Path.Combine(dir, PackedRecordsFile.FileName(l)), settings.Shape)).ToList();
        return (pointer.NextWindow, states, dir);
    }

    public static void Remove(string outDir)
    {
        File.Delete(Path.Combine(outDir, FileName));
        RemoveFolders(outDir, keep: null);
    }

    private static void RemoveFolders(string outDir, string? keep)
    {
        foreach (var d in Directory.EnumerateDirectories(outDir, DirectoryPrefix + "*"))
            if (Path.GetFileName(d) != keep) Directory.Delete(d, recursive: true);
    }
}
