namespace NeuronEngine.Scoring;

/// <summary>
/// One line of OUT/scores.jsonl: a neuron's first scored explanation (the one OpenAI's tools treat as the
/// neuron's explanation) and its recomputed scores; null where undefined. The calibrated scores are null
/// when the results have no calibration simulations (calibration turned off, or a file without a sidecar).
/// </summary>
public sealed record NeuronScoreLine(
    int Layer,
    int Neuron,
    string Explanation,
    double? EvCorrelationScore,
    double? RsquaredScore,
    double? AbsoluteDevExplainedScore,
    double? CalibratedRsquaredScore,
    double? CalibratedAbsoluteDevExplainedScore,
    double? TopOnlyEvCorrelationScore,
    double? RandomOnlyEvCorrelationScore);

/// <summary>Mean ev_correlation_score of one layer's neurons (over those whose score is defined).</summary>
public sealed record LayerScoreMean(int Layer, int NeuronCount, double? MeanScore);

/// <summary>Progress of a score run, reported after each chunk of files.</summary>
public readonly record struct ScoreRunProgress(int FilesDone, int FilesTotal);

/// <summary>
/// What a score run did. "Score" is the top-and-random ev_correlation_score of each neuron's first
/// explanation; means, median and counts are over the neurons whose score is defined.
/// </summary>
public sealed record ScoreRunSummary(
    int NeuronCount,
    int DefinedScoreCount,
    double? MeanScore,
    double? MedianScore,
    int ScoresAtLeast0Point8,
    IReadOnlyList<LayerScoreMean> LayerMeans,
    IReadOnlyList<ScoreFailure> Failures,
    IReadOnlyList<double> Scores,
    string ScoresPath)
{
    internal static ScoreRunSummary From(IReadOnlyList<NeuronScoreLine> lines, IReadOnlyList<ScoreFailure> failures, string scoresPath)
    {
        var scores = lines.Where(l => l.EvCorrelationScore.HasValue).Select(l => l.EvCorrelationScore!.Value).ToArray();
        var layerMeans = lines
            .GroupBy(l => l.Layer)
            .OrderBy(g => g.Key)
            .Select(g => new LayerScoreMean(g.Key, g.Count(), Mean(g.Where(l => l.EvCorrelationScore.HasValue)
                .Select(l => l.EvCorrelationScore!.Value).ToArray())))
            .ToArray();
        return new ScoreRunSummary(
            lines.Count, scores.Length, Mean(scores), Median(scores), scores.Count(s => s >= 0.8),
            layerMeans, failures, scores, scoresPath);
    }

    internal static double? Mean(double[] values) => values.Length == 0 ? null : values.Average();

    internal static double? Median(double[] values)
    {
        if (values.Length == 0) return null;
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
