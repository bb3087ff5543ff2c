using System.Globalization;
using NeuronEngine.Text;
using NeuronEngine.OpenAi;
using NeuronEngine.Pass;

namespace NeuronEngine.Records;

/// <summary>
/// Writes a records directory in either layout, shared by `engine records` and `engine merge`. Order: the manifest
/// with complete = false, then every output file atomically (temp + rename: a file is either absent or whole), then
/// the manifest with complete = true. A run killed in between leaves an incomplete manifest, which a rerun detects
/// and restarts from (<see cref="PrepareDirectory"/>).
/// </summary>
public static class RecordsOutput
{
    public static readonly string[] Layouts = ["openai", "packed"];

    /// <summary>
    /// Makes <paramref name="dir"/> ready for a run: true if it already holds this exact complete result (nothing to do).
    /// An incomplete earlier attempt with the same settings is cleared except for its checkpoint (which the run resumes
    /// from if it matches); a directory holding other settings, or files
    /// that are not records output, is refused.
    /// </summary>
    public static bool PrepareDirectory(string dir, RecordsManifest planned)
    {
        Directory.CreateDirectory(dir);
        var existing = RecordsManifest.TryLoad(dir);
        string manifestPath = RecordsManifest.PathIn(dir);
        if (existing is null)
        {
            var stranger = IO.OutputDirectory.ForeignEntries(dir, n => IsOutputEntry(Path.Combine(dir, n)) || RecordsCheckpoint.IsCheckpointEntry(n)).FirstOrDefault();
            if (stranger is not null) throw new InvalidDataException($"{dir}: the directory holds other files ({stranger}) and no {RecordsManifest.FileName}; use a new --out");
        }
        else
        {
            if (existing.Settings.FirstDifference(planned.Settings) is { } diff)
                throw new InvalidDataException($"{manifestPath}: this directory holds records made with other settings ({diff}); use a new --out or delete it");
            if (existing.Layout != planned.Layout)
                throw new InvalidDataException($"{manifestPath}: this directory holds --format {existing.Layout} records; use a new --out or delete it");
            if (existing.Complete && existing.Windows.SequenceEqual(planned.Windows)) return true;
            if (existing.Complete)
                throw new InvalidDataException($"{manifestPath}: this directory holds complete records of other windows ({Describe(existing.Windows)}); use a new --out");
        }
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir).Where(IsOutputEntry))
        {
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
        return false;
    }

    // Only what this engine writes: numeric layer folders, layer-*.safetensors, temp files, the token table, the
    // token-lookup folder, the manifest.
    private static bool IsOutputEntry(string path) =>
        NeuronFileLayout.IsLayerOutput(path) || Path.GetFileName(path) is RecordsManifest.FileName or TokenTableFile.FileName or TokenLookupFiles.FolderName;

    public static string Describe(IEnumerable<WindowRange> ranges) => string.Join(",", ranges.Select(r => $"{r.First}-{r.End - 1}"));

    /// <summary>
    /// Writes the states (and, for packed, the token table) and finally the complete manifest. Returns files written;
    /// <paramref name="filesWritten"/> hears of each (from several threads).
    /// </summary>
    public static int Write(string dir, RecordsManifest manifest, IReadOnlyList<LayerRecordState> states, IReadOnlyDictionary<long, int[]> tokens,
        IProgress<int>? filesWritten = null)
    {
        int written = 0;
        void Wrote() => filesWritten?.Report(Interlocked.Increment(ref written));
        (manifest with { Complete = false }).Save(dir);
        if (manifest.Layout == "packed")
        {
            TokenTableFile.Write(Path.Combine(dir, TokenTableFile.FileName), tokens, manifest.Settings.SeqLen);
            Wrote();
            var metadata = Metadata(manifest);
            foreach (var s in states)
            {
                PackedRecordsFile.Write(Path.Combine(dir, PackedRecordsFile.FileName(s.Layer)), s, metadata);
                Wrote();
            }
        }
        else
        {
            var tokenizer = Gpt2Tokenizer.Load();
            // Decode every token once up front: the tokenizer's display cache is then only read by the writers.
            foreach (int id in tokens.Values.SelectMany(t => t).Distinct()) tokenizer.DisplayToken(id);
            foreach (var s in states)
                NeuronFileLayout.WriteEachNeuron(s.Shape.Neurons, n =>
                {
                    NeuronRecordFile.Write(NeuronRecordFile.PathFor(dir, s.Layer, n), OpenAiRecords.ToNeuronRecord(s, n, tokens, tokenizer));
                    Wrote();
                });
        }
        (manifest with { Complete = true }).Save(dir);
        return written;
    }

    private static Dictionary<string, string> Metadata(RecordsManifest m) => new()
    {
        ["model"] = m.Settings.Model,
        ["seq_len"] = m.Settings.SeqLen.ToString(CultureInfo.InvariantCulture),
        ["seed"] = m.Settings.Seed.ToString(CultureInfo.InvariantCulture),
        ["top_k"] = m.Settings.TopK.ToString(CultureInfo.InvariantCulture),
        ["random"] = m.Settings.Random.ToString(CultureInfo.InvariantCulture),
        ["quantile_samples"] = m.Settings.QuantileSamples.ToString(CultureInfo.InvariantCulture),
        ["band_quantiles"] = string.Join(",", RecordShape.BandQuantiles.Select(q => q.ToString(CultureInfo.InvariantCulture))),
        ["windows"] = Describe(m.Windows),
        ["total_windows"] = m.Settings.TotalWindows.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Reads a complete packed records directory back: its manifest, layer states and token table.</summary>
    public static (RecordsManifest Manifest, List<LayerRecordState> States, Dictionary<long, int[]> Tokens) ReadPacked(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: no such records directory");
        var m = RecordsManifest.TryLoad(dir) ?? throw new InvalidDataException($"{dir}: no {RecordsManifest.FileName}: not a records directory");
        if (!m.Complete) throw new InvalidDataException($"{RecordsManifest.PathIn(dir)}: the run that wrote it did not finish; rerun it first");
        if (m.Layout != "packed") throw new InvalidDataException($"{dir}: holds --format {m.Layout} records; merge needs --format packed inputs");
        var states = m.Settings.Layers.Select(l =>
        {
            string path = Path.Combine(dir, PackedRecordsFile.FileName(l));
            var state = PackedRecordsFile.Read(path, m.Settings.Shape);
            return state.Layer == l ? state : throw new InvalidDataException($"{path}: holds layer {state.Layer}, expected {l}");
        }).ToList();
        return (m, states, TokenTableFile.Read(Path.Combine(dir, TokenTableFile.FileName)));
    }
}
