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
    double? RandomOnlyEvCorrelationScore,
    bool WithAblationScore = false,
    double? AblationScore = null)
{
    /// <summary>With `--revise`: which candidate is best (the line's explanation), the first one's, and the best one's generation score.</summary>
    public RevisionColumns? Revision { get; init; }
}

/// <summary>
/// The scores.jsonl columns of a revised neuron (docs/revise.md): the best candidate's name, the first explanation
/// (the unrevised original) and its ev_correlation_score, and the best candidate's generation score (null without texts).
/// </summary>
public sealed record RevisionColumns(string BestCandidate, string FirstExplanation, double? FirstEvCorrelationScore, GenerationScore? BestGeneration);

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
        var builder = new Builder();
        foreach (var line in lines) builder.Add(line);
        return builder.Build(failures, scoresPath);
    }

    /// <summary>
    /// The summary of lines seen one at a time (sorted by layer, as a run writes them), keeping 8 bytes per defined
    /// score (the histogram's data) and a few per layer, not the lines.
    /// </summary>
    internal sealed class Builder
    {
        private readonly List<double> _scores = [];
        private readonly List<(int Layer, int Neurons, int FirstScore)> _layers = [];
        private int _neurons;

        public void Add(NeuronScoreLine line)
        {
            if (_layers.Count == 0 || _layers[^1].Layer != line.Layer)
            {
                if (_layers.Count > 0 && _layers[^1].Layer > line.Layer)
                    throw new ArgumentException($"lines must come sorted by layer: layer {line.Layer} after {_layers[^1].Layer}", nameof(line));
                _layers.Add((line.Layer, 0, _scores.Count));
            }
            _layers[^1] = _layers[^1] with { Neurons = _layers[^1].Neurons + 1 };
            _neurons++;
            if (line.EvCorrelationScore is double score) _scores.Add(score);
        }

        public ScoreRunSummary Build(IReadOnlyList<ScoreFailure> failures, string scoresPath)
        {
            var scores = _scores.ToArray();
            var layerMeans = _layers.Select((l, i) =>
            {
                int end = i + 1 < _layers.Count ? _layers[i + 1].FirstScore : scores.Length;
                return new LayerScoreMean(l.Layer, l.Neurons, Mean(scores[l.FirstScore..end]));
            }).ToArray();
            return new ScoreRunSummary(
                _neurons, scores.Length, Mean(scores), Median(scores), scores.Count(s => s >= 0.8),
                layerMeans, failures, scores, scoresPath);
        }
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
