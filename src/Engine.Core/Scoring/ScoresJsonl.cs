using System.Text.Encodings.Web;
using System.Text.Json;
using NeuronEngine.IO;

namespace NeuronEngine.Scoring;

/// <summary>Writes OUT/scores.jsonl: one compact JSON object per neuron, in the given order.</summary>
public static class ScoresJsonl
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Explanations are plain prose: keep non-ASCII readable instead of \u-escaping it.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes the lines as they come (the sequence may be computed while it is written), then commits the file.</summary>
    public static void Write(string path, IEnumerable<NeuronScoreLine> lines) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new Utf8JsonWriter(stream, WriterOptions);
            foreach (var line in lines)
            {
                writer.Reset();
                writer.WriteStartObject();
                writer.WriteNumber("layer", line.Layer);
                writer.WriteNumber("neuron", line.Neuron);
                writer.WriteString("explanation", line.Explanation);
                WriteScore(writer, "ev_correlation_score", line.EvCorrelationScore);
                WriteScore(writer, "rsquared_score", line.RsquaredScore);
                WriteScore(writer, "absolute_dev_explained_score", line.AbsoluteDevExplainedScore);
                WriteScore(writer, "calibrated_rsquared_score", line.CalibratedRsquaredScore);
                WriteScore(writer, "calibrated_absolute_dev_explained_score", line.CalibratedAbsoluteDevExplainedScore);
                WriteScore(writer, "top_only_ev_correlation_score", line.TopOnlyEvCorrelationScore);
                WriteScore(writer, "random_only_ev_correlation_score", line.RandomOnlyEvCorrelationScore);
                if (line.WithAblationScore) WriteScore(writer, "ablation_score", line.AblationScore);   // `--ablation` only
                if (line.Revision is { } revision)
                {
                    // Only for revised neurons (`--revise`), so other runs' lines keep their columns.
                    writer.WriteString("best_candidate", revision.BestCandidate);
                    writer.WriteString("first_explanation", revision.FirstExplanation);
                    WriteScore(writer, "first_ev_correlation_score", revision.FirstEvCorrelationScore);
                    WriteScore(writer, "generation_should_fire_above", revision.BestGeneration?.ShouldFireAbove);
                    WriteScore(writer, "generation_should_not_fire_above", revision.BestGeneration?.ShouldNotFireAbove);
                    WriteScore(writer, "generation_auroc", revision.BestGeneration?.Auroc);
                }
                writer.WriteEndObject();
                writer.Flush();
                stream.WriteByte((byte)'\n');
            }
        });

    private static void WriteScore(Utf8JsonWriter writer, string name, double? score)
    {
        if (score is double value && double.IsFinite(value)) writer.WriteNumber(name, value);
        else writer.WriteNull(name);
    }
}
