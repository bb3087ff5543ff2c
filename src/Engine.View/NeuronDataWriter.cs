using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using NeuronEngine.Records;
using NeuronEngine.Related;
using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.View;

/// <summary>What the index keeps of one neuron (one row of the neuron table).</summary>
public sealed record IndexRow(int Neuron, double MaxActivation, string? Explanation, double? Score, double? TopOnly, double? RandomOnly);

/// <summary>
/// Writes one neuron's page data, data/{layer}/{neuron}.js: <c>NV.neuron({...});</c> with the JSON documented in
/// docs/viewer.md. Token strings are stored once per neuron ("tokens") and records refer to them by index, each
/// distinct record is stored once ("records") and the top, random and band lists refer to it by index; activations
/// keep 4 significant digits (the page shows 3).
/// </summary>
public static class NeuronDataWriter
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes the file and returns the neuron's index row and the bytes written.</summary>
    public static (IndexRow Row, long Bytes) Write(string path, NeuronRecord record, NeuronResults? results,
        WeightBasedSummaryOfNeuron? related, TokenLookupTableSummaryOfNeuron? lookup, (int Layer, int Neuron)? previous, (int Layer, int Neuron)? next,
        NeuronAblationSummary? ablation = null)
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        buffer.Write("NV.neuron("u8);
        var table = new Dictionary<string, int>(StringComparer.Ordinal);
        double max = Scale(record);
        IndexRow row;
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            w.WriteNumber("layer", record.NeuronId.LayerIndex);
            w.WriteNumber("neuron", record.NeuronId.NeuronIndex);
            WritePair(w, "prev", previous);
            WritePair(w, "next", next);
            w.WritePropertyName("max");
            Number(w, max, "G6");
            w.WriteStartObject("stats");
            foreach (var (name, value) in new[] { ("mean", record.Mean), ("variance", record.Variance), ("skewness", record.Skewness), ("kurtosis", record.Kurtosis) })
            {
                w.WritePropertyName(name);
                Number(w, value, "G6");
            }
            w.WriteEndObject();
            w.WriteStartArray("quantiles");
            foreach (double b in record.QuantileBoundaries) Number(w, b, "G6");
            w.WriteEndArray();
            // Each distinct window once ("records"); top, random and the bands list indices into it (with a small
            // corpus, or in the top band, the same window is often in several lists).
            var distinct = new List<ActivationRecord>();
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            int[] Indices(IEnumerable<ActivationRecord> list) => list.Select(r =>
            {
                string key = string.Join('\u0001', r.Tokens) + "\u0002" + string.Join(',', r.Activations.Select(a => BitConverter.DoubleToInt64Bits(a)));
                if (!seen.TryGetValue(key, out int i)) { seen[key] = i = distinct.Count; distinct.Add(r); }
                return i;
            }).ToArray();
            var top = Indices(record.MostPositiveActivationRecords);
            var random = Indices(record.RandomSample);
            var bands = record.RandomSampleByQuantile.Select(Indices).ToArray();
            w.WriteStartArray("records");
            foreach (var r in distinct)
            {
                w.WriteStartObject();
                WriteTokens(w, r.Tokens, table);
                WriteNumbers(w, "a", r.Activations);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteIndices(w, "top", top);
            WriteIndices(w, "random", random);
            w.WriteStartArray("bands");
            foreach (var band in bands)
            {
                w.WriteStartArray();
                foreach (int i in band) w.WriteNumberValue(i);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            row = WriteExplanations(w, results, table, record.NeuronId.NeuronIndex, max);
            WriteRelated(w, related);
            WriteTokenLookup(w, lookup);
            if (ablation is not null) WriteAblation(w, ablation);
            w.WriteStartArray("tokens");
            foreach (var token in table.OrderBy(e => e.Value).Select(e => e.Key)) w.WriteStringValue(token);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.Write(");\n"u8);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            file.Write(buffer.WrittenSpan);
        return (row, buffer.WrittenCount);
    }

    /// <summary>
    /// The neuron's activation scale: its largest activation over every record (the top record's maximum when
    /// records were selected by `engine records`); when nothing is positive, the largest magnitude; 1 when all are 0.
    /// </summary>
    public static double Scale(NeuronRecord record)
    {
        var all = record.MostPositiveActivationRecords.Concat(record.RandomSample).Concat(record.RandomSampleByQuantile.SelectMany(b => b))
            .SelectMany(r => r.Activations).Where(double.IsFinite).ToArray();
        if (all.Length == 0) return 1;
        double max = all.Max();
        if (max > 0) return max;
        double magnitude = all.Max(Math.Abs);
        return magnitude > 0 ? magnitude : 1;
    }

    private static IndexRow WriteExplanations(Utf8JsonWriter w, NeuronResults? results, Dictionary<string, int> table, int neuron, double max)
    {
        w.WriteStartArray("explanations");
        IndexRow row = new(neuron, max, null, null, null, null);
        if (results is not null)
            for (int e = 0; e < results.Results.ScoredExplanations.Length; e++)
            {
                var explanation = results.Results.ScoredExplanations[e];
                var sim = explanation.ScoredSimulation;
                var (topOnly, randomOnly) = ResultsSource.Variants(results, e);
                if (e == 0) row = row with { Explanation = explanation.Explanation, Score = Finite(sim.EvCorrelationScore), TopOnly = topOnly, RandomOnly = randomOnly };
                w.WriteStartObject();
                w.WriteString("text", Clean(explanation.Explanation));
                foreach (var (name, value) in new[] { ("ev", sim.EvCorrelationScore), ("rsq", sim.RsquaredScore), ("absdev", sim.AbsoluteDevExplainedScore), ("top_ev", topOnly), ("random_ev", randomOnly) })
                {
                    w.WritePropertyName(name);
                    Number(w, value ?? double.NaN, "G6");
                }
                var flags = ResultsSource.TopFlags(results, e);
                w.WriteStartArray("sequences");
                for (int s = 0; s < sim.ScoredSequenceSimulations.Length; s++)
                {
                    var seq = sim.ScoredSequenceSimulations[s];
                    w.WriteStartObject();
                    w.WriteString("source", flags[s] ? "top" : "random");
                    WriteTokens(w, seq.Simulation.Tokens, table);
                    WriteNumbers(w, "true", seq.TrueActivations);
                    WriteNumbers(w, "sim", seq.Simulation.ExpectedActivations);
                    // Simulations on OpenAI's 0–10 scale are coloured against 10; calibrated ones ("neuron_activations") like the true values.
                    w.WritePropertyName("sim_max");
                    Number(w, seq.Simulation.ActivationScale == "neuron_activations" ? max : 10, "G6");
                    w.WritePropertyName("ev");
                    Number(w, seq.EvCorrelationScore ?? double.NaN, "G6");
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (results.Sidecar?.ScoredExplanations[e].Candidate is { } candidate) WriteCandidate(w, candidate, table);
                w.WriteEndObject();
            }
        w.WriteEndArray();
        return row;
    }

    /// <summary>
    /// A revised neuron's candidate (`--revise`): its name and order, its generation score and its probe texts with the
    /// measured activations (coloured against the neuron's scale like the records). The results file lists the best first.
    /// </summary>
    private static void WriteCandidate(Utf8JsonWriter w, ExplanationCandidate candidate, Dictionary<string, int> table)
    {
        w.WriteStartObject("candidate");
        w.WriteString("name", candidate.Name);
        w.WriteNumber("order", candidate.Order);
        if (candidate.GenerationScore is { } g)
        {
            w.WriteStartObject("generation");
            foreach (var (name, value) in new[] { ("fire", g.ShouldFireAbove), ("not_fire", g.ShouldNotFireAbove), ("auroc", g.Auroc), ("threshold", (double?)g.Threshold) })
            {
                w.WritePropertyName(name);
                Number(w, value ?? double.NaN, "G6");
            }
            w.WriteEndObject();
        }
        else w.WriteNull("generation");
        w.WriteStartArray("probes");
        foreach (var text in candidate.ProbeTexts)
        {
            w.WriteStartObject();
            w.WriteBoolean("fire", text.ShouldFire);
            WriteTokens(w, text.Tokens, table);
            WriteNumbers(w, "a", text.Activations);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteRelated(Utf8JsonWriter w, WeightBasedSummaryOfNeuron? related)
    {
        if (related is null)
        {
            w.WriteNull("related");
            return;
        }
        w.WriteStartObject("related");
        foreach (var list in Enum.GetValues<RelatedList>())
        {
            w.WriteStartObject(RelatedLayer.ListNames[(int)list]);
            w.WriteStartArray("t");
            foreach (var t in related.List(list).Tokens) w.WriteStringValue(Clean(t));
            w.WriteEndArray();
            WriteNumbers(w, "s", related.List(list).Strengths);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>"ablation": {kind, value, windows, delta_loss, kl, promoted: {t, s}, suppressed: {t, s}} (only with --ablation).</summary>
    private static void WriteAblation(Utf8JsonWriter w, NeuronAblationSummary a)
    {
        w.WriteStartObject("ablation");
        w.WriteString("kind", a.Ablation);
        w.WritePropertyName("value");
        Number(w, a.AblationValue, "G6");
        w.WriteNumber("windows", a.Windows);
        w.WritePropertyName("delta_loss");
        Number(w, a.DeltaLoss, "G6");
        w.WritePropertyName("kl");
        Number(w, a.Kl, "G6");
        foreach (var (name, list) in new[] { ("promoted", a.PromotedTokens), ("suppressed", a.SuppressedTokens) })
        {
            w.WriteStartObject(name);
            w.WriteStartArray("t");
            foreach (var t in list.Tokens) w.WriteStringValue(Clean(t));
            w.WriteEndArray();
            WriteNumbers(w, "s", list.Strengths);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteTokenLookup(Utf8JsonWriter w, TokenLookupTableSummaryOfNeuron? lookup)
    {
        if (lookup is null)
        {
            w.WriteNull("lookup");
            return;
        }
        w.WriteStartObject("lookup");
        w.WriteStartArray("t");
        foreach (var t in lookup.Tokens) w.WriteStringValue(Clean(t));
        w.WriteEndArray();
        WriteNumbers(w, "a", lookup.AverageActivations);
        w.WriteEndObject();
    }

    private static void WriteIndices(Utf8JsonWriter w, string name, int[] indices)
    {
        w.WriteStartArray(name);
        foreach (int i in indices) w.WriteNumberValue(i);
        w.WriteEndArray();
    }

    private static void WriteTokens(Utf8JsonWriter w, string[] tokens, Dictionary<string, int> table)
    {
        w.WriteStartArray("t");
        foreach (var token in tokens)
        {
            string clean = Clean(token);
            if (!table.TryGetValue(clean, out int id)) table[clean] = id = table.Count;
            w.WriteNumberValue(id);
        }
        w.WriteEndArray();
    }

    private static void WriteNumbers(Utf8JsonWriter w, string name, double[] values)
    {
        w.WriteStartArray(name);
        foreach (double v in values) Number(w, v, "G4");
        w.WriteEndArray();
    }

    private static void WritePair(Utf8JsonWriter w, string name, (int Layer, int Neuron)? pair)
    {
        if (pair is not { } p)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartArray(name);
        w.WriteNumberValue(p.Layer);
        w.WriteNumberValue(p.Neuron);
        w.WriteEndArray();
    }

    /// <summary>A number with the given significant digits (JSON-valid: "1.5E-05" is), or null when not finite.</summary>
    public static void Number(Utf8JsonWriter w, double value, string format)
    {
        if (!double.IsFinite(value))
        {
            w.WriteNullValue();
            return;
        }
        if (value == 0) value = 0; // −0 → 0
        w.WriteRawValue(value.ToString(format, CultureInfo.InvariantCulture), skipInputValidation: true);
    }

    private static double? Finite(double? v) => v is double d && double.IsFinite(d) ? d : null;

    /// <summary>Replaces lone UTF-16 surrogates (results files may hold them, e.g. "\ud83d") with U+FFFD: JSON writers refuse them.</summary>
    public static string Clean(string s)
    {
        int i = 0;
        for (; i < s.Length; i++)
            if (char.IsSurrogate(s[i])) break;
        if (i == s.Length) return s;
        var b = new StringBuilder(s.Length);
        for (i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { b.Append(c).Append(s[++i]); }
            else b.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
        }
        return b.ToString();
    }
}
