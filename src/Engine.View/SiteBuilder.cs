using NeuronEngine.IO;
using System.Buffers;
using System.Diagnostics;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using NeuronEngine.Dump;
using NeuronEngine.OpenAi;

namespace NeuronEngine.View;

/// <summary>Inputs and output of `engine view`.</summary>
public sealed record SiteOptions
{
    public required string Records { get; init; }
    public string? Results { get; init; }
    public string? Related { get; init; }
    /// <summary>`engine connections` output: each neuron page lists its connected neurons (ConnectionsPages).</summary>
    public string? Connections { get; init; }
    /// <summary>`engine ablate` output: each neuron page shows what ablating it does to the output (AblationSource).</summary>
    public string? Ablation { get; init; }
    public required string Out { get; init; }
    public string? Title { get; init; }
    /// <summary>Index rows of all layers are shown at first when the site has at most this many neurons; else the first layer's.</summary>
    public int ShowAllLayersUpTo { get; init; } = 40_000;
}

/// <summary>What a build wrote.</summary>
public sealed record SiteSummary(int Neurons, int Layers, int Explained, int WithRelated, long Files, long Bytes, TimeSpan Elapsed,
    int ResultFailures, string? FirstResultFailure)
{
    /// <summary>Neurons with a connections file (null without --connections).</summary>
    public int? WithConnections { get; init; }
}

/// <summary>
/// Builds the static site of `engine view` (docs/viewer.md): the page assets (src/Engine.View/site/, embedded),
/// data/site.js (layers, counts, score histograms), data/index/{layer}.js (the neuron table, one chunk per layer) and
/// data/{layer}/{neuron}.js (one neuron's records, explanations, scores and related tokens). Neurons are streamed
/// layer by layer, a few in parallel, so memory holds one layer's index rows and a few neurons, whatever the size.
/// </summary>
public sealed class SiteBuilder(SiteOptions options)
{
    public const string DataFolder = "data";
    public const string SiteScript = "site.js";
    public const int HistogramBins = 20;
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public SiteSummary Build(IProgress<RunProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        using var records = RecordsSource.Open(options.Records);
        var results = options.Results is null ? null : new ResultsSource(options.Results);
        var related = options.Related is null ? null : new RelatedSource(options.Related);
        var connections = options.Connections is null ? null : new ConnectionsSource(options.Connections);
        var ablation = options.Ablation is null ? null : new AblationSource(options.Ablation);
        // What a connected neuron's entry shows: its first explanation and score (kept only with --connections).
        var explanations = new System.Collections.Concurrent.ConcurrentDictionary<(int Layer, int Neuron), (string Explanation, double? Score)>();
        string site = options.Out;
        PrepareOutput(site);
        long files = 0, bytes = 0;
        foreach (var (name, content) in Assets())
        {
            File.WriteAllBytes(Path.Combine(site, name), content);
            files++;
            bytes += content.Length;
        }

        var neurons = records.Neurons;
        long done = 0;
        var progressLock = new Lock();
        progress?.Report(new RunProgress(0, neurons.Count));
        var layers = new List<LayerSummary>();
        int explained = 0, withRelated = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) };
        for (int start = 0; start < neurons.Count;)
        {
            int layer = neurons[start].Layer, end = start;
            while (end < neurons.Count && neurons[end].Layer == layer) end++;
            var rows = new IndexRow[end - start];
            int first = start;
            try
            {
                Parallel.For(first, end, parallel, i =>
                {
                    var (l, n) = neurons[i];
                    var record = records.Read(l, n);
                    var result = results?.Read(l, n);
                    var lists = related?.Read(l, n);
                    if (lists is not null) Interlocked.Increment(ref withRelated);
                    var (row, written) = NeuronDataWriter.Write(NeuronScript(site, l, n), record, result, lists, records.ReadTokenLookup(l, n),
                        i > 0 ? neurons[i - 1] : null, i + 1 < neurons.Count ? neurons[i + 1] : null, ablation?.Read(l, n));
                    rows[i - first] = row;
                    if (connections is not null && row.Explanation is not null) explanations[(l, n)] = (row.Explanation, row.Score);
                    Interlocked.Add(ref bytes, written);
                    long now = Interlocked.Increment(ref done);
                    if (progress is not null && (now % 64 == 0 || now == neurons.Count))
                        lock (progressLock) progress.Report(new RunProgress(now, neurons.Count));
                });
            }
            catch (AggregateException e) when (e.InnerExceptions.FirstOrDefault(x => x is not AggregateException) is { } inner)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inner).Throw();
            }
            files += rows.Length;
            var summary = LayerSummary.Of(layer, rows);
            explained += summary.Explained;
            layers.Add(summary);
            bytes += WriteScript(Path.Combine(site, DataFolder, "index", $"{layer}.js"), "NV.indexChunk", w => WriteIndexChunk(w, layer, rows));
            files++;
            start = end;
        }
        int? withConnections = null;
        if (connections is not null)
        {
            var (count, written) = ConnectionsPages.Write(site, connections, neurons, explanations);
            (withConnections, files, bytes) = (count, files + count, bytes + written);
        }
        bytes += WriteScript(Path.Combine(site, DataFolder, SiteScript), "NV.site", w => WriteSite(w, records, results, related, connections, layers, neurons.Count, explained));
        files++;
        return new SiteSummary(neurons.Count, layers.Count, explained, withRelated, files, bytes, clock.Elapsed, results?.Failures ?? 0, results?.FirstFailure)
            { WithConnections = withConnections };
    }

    public static string NeuronScript(string site, int layer, int neuron) =>
        OpenAi.NeuronFileLayout.PathFor(Path.Combine(site, DataFolder), layer, neuron, ".js");

    /// <summary>The page assets: every embedded resource under site/ (index.html, neuron.html, *.js, *.css).</summary>
    public static IEnumerable<(string Name, byte[] Content)> Assets()
    {
        var assembly = typeof(SiteBuilder).Assembly;
        foreach (string resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("site/", StringComparison.Ordinal)).Order())
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            yield return (resource["site/".Length..], copy.ToArray());
        }
    }

    /// <summary>An empty or missing directory, or an earlier site (whose data/ is cleared); anything else is refused.</summary>
    private static void PrepareOutput(string site)
    {
        if (File.Exists(site)) throw new ArgumentException($"--out {site} is a file");
        Directory.CreateDirectory(site);
        bool earlier = File.Exists(Path.Combine(site, DataFolder, SiteScript));
        var assets = Assets().Select(a => a.Name).ToHashSet();
        var strangers = OutputDirectory.ForeignEntries(site, n => n == DataFolder || assets.Contains(n)).ToList();
        if (!earlier && (strangers.Count > 0 || Directory.Exists(Path.Combine(site, DataFolder))))
            throw new ArgumentException($"--out {site}: the directory holds other files ({strangers.Concat([DataFolder]).First()}) and is not an earlier site; use a new --out");
        if (Directory.Exists(Path.Combine(site, DataFolder))) Directory.Delete(Path.Combine(site, DataFolder), recursive: true);
    }

    private static long WriteScript(string path, string call, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        buffer.Write(System.Text.Encoding.UTF8.GetBytes(call + "("));
        using (var w = new Utf8JsonWriter(buffer, JsonOptions)) body(w);
        buffer.Write(");\n"u8);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, buffer.WrittenSpan.ToArray());
        return buffer.WrittenCount;
    }

    private static void WriteIndexChunk(Utf8JsonWriter w, int layer, IndexRow[] rows)
    {
        w.WriteStartObject();
        w.WriteNumber("layer", layer);
        w.WriteStartArray("neuron");
        foreach (var r in rows) w.WriteNumberValue(r.Neuron);
        w.WriteEndArray();
        void Column(string name, Func<IndexRow, double?> value, string format)
        {
            w.WriteStartArray(name);
            foreach (var r in rows) NeuronDataWriter.Number(w, value(r) ?? double.NaN, format);
            w.WriteEndArray();
        }
        Column("max", r => r.MaxActivation, "G4");
        Column("ev", r => r.Score, "G4");
        Column("top_ev", r => r.TopOnly, "G4");
        Column("random_ev", r => r.RandomOnly, "G4");
        w.WriteStartArray("explanation");
        foreach (var r in rows)
        {
            if (r.Explanation is null) w.WriteNullValue();
            else w.WriteStringValue(NeuronDataWriter.Clean(r.Explanation));
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void WriteSite(Utf8JsonWriter w, RecordsSource records, ResultsSource? results, RelatedSource? related, ConnectionsSource? connections,
        List<LayerSummary> layers, int neurons, int explained)
    {
        var m = records.Manifest;
        w.WriteStartObject();
        w.WriteString("title", options.Title ?? (m is null ? "Neuron viewer" : $"Neurons of {m.Settings.Model}"));
        w.WriteString("model", m?.Settings.Model);
        if (m is null) w.WriteNull("records");
        else
        {
            w.WriteStartObject("records");
            w.WriteString("layout", m.Layout);
            w.WriteString("corpus", Path.GetFileName(m.Settings.Corpus));
            w.WriteNumber("seq_len", m.Settings.SeqLen);
            w.WriteNumber("top_k", m.Settings.TopK);
            w.WriteNumber("random", m.Settings.Random);
            w.WriteNumber("quantile_samples", m.Settings.QuantileSamples);
            w.WriteNumber("windows", m.Windows.Sum(r => r.End - r.First));
            w.WriteString("device", m.Settings.Device);
            w.WriteEndObject();
        }
        w.WriteBoolean("results", results is not null);
        if (related is null) w.WriteNull("related");
        else
        {
            w.WriteStartObject("related");
            if (related.Settings is { } rs)
            {
                w.WriteNumber("top", rs.Top);
                w.WriteString("definition", rs.Definition);
                w.WriteBoolean("with_wpe0", rs.WithPositionZero);
            }
            else w.WriteNull("definition"); // OpenAI's layout without related.json (their published files: OpenAI's definition)
            w.WriteEndObject();
        }
        if (connections is null) w.WriteNull("connections");
        else
        {
            w.WriteStartObject("connections");
            w.WriteNumber("top", connections.Settings.Top);
            w.WriteNumber("model_layers", connections.Settings.ModelLayers);
            w.WriteEndObject();
        }
        w.WriteNumber("neurons", neurons);
        w.WriteNumber("explained", explained);
        w.WritePropertyName("mean_ev");
        double[] scores = [.. layers.SelectMany(l => l.Scores)];
        NeuronDataWriter.Number(w, scores.Length > 0 ? scores.Average() : double.NaN, "G4");
        w.WriteStartArray("hist");
        foreach (int c in LayerSummary.Histogram(scores)) w.WriteNumberValue(c);
        w.WriteEndArray();
        w.WriteStartArray("hist_range");
        w.WriteNumberValue(-1);
        w.WriteNumberValue(1);
        w.WriteEndArray();
        if (neurons <= options.ShowAllLayersUpTo || layers.Count == 0) w.WriteString("default_layer", "all");
        else w.WriteNumber("default_layer", layers[0].Layer);
        w.WriteStartArray("layers");
        foreach (var l in layers)
        {
            w.WriteStartObject();
            w.WriteNumber("layer", l.Layer);
            w.WriteNumber("neurons", l.Neurons.Length);
            w.WriteNumber("first", l.Neurons[0]);
            w.WriteNumber("last", l.Neurons[^1]);
            // The neuron ids when they are not simply first..last (a page checks a jump target against them).
            if (l.Neurons[^1] - l.Neurons[0] + 1 == l.Neurons.Length) w.WriteNull("ids");
            else
            {
                w.WriteStartArray("ids");
                foreach (int n in l.Neurons) w.WriteNumberValue(n);
                w.WriteEndArray();
            }
            w.WriteNumber("explained", l.Explained);
            w.WritePropertyName("mean_ev");
            NeuronDataWriter.Number(w, l.Scores.Length > 0 ? l.Scores.Average() : double.NaN, "G4");
            w.WriteStartArray("hist");
            foreach (int c in LayerSummary.Histogram(l.Scores)) w.WriteNumberValue(c);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private sealed record LayerSummary(int Layer, int[] Neurons, int Explained, double[] Scores)
    {
        public static LayerSummary Of(int layer, IndexRow[] rows) => new(layer, rows.Select(r => r.Neuron).ToArray(),
            rows.Count(r => r.Explanation is not null), rows.Where(r => r.Score is not null).Select(r => r.Score!.Value).ToArray());

        /// <summary>Counts of scores in <see cref="HistogramBins"/> equal bins over [−1, 1] (1 falls in the last bin).</summary>
        public static int[] Histogram(IEnumerable<double> scores)
        {
            var counts = new int[HistogramBins];
            foreach (double s in scores)
                counts[Math.Clamp((int)Math.Floor((s + 1) / 2 * HistogramBins), 0, HistogramBins - 1)]++;
            return counts;
        }
    }
}
