namespace NeuronEngine.Scoring;

/// <summary>
/// Scores every neuron of a packed batch. Implementations: <see cref="CpuBatchScorer"/> (managed,
/// multi-threaded, double throughout) and the ILGPU scorer in Engine.Runtime (one kernel pass for the per-range
/// sums, the same <see cref="TokenRangeStatistics"/> merge and null rules on the host); both are picked through
/// the runtime's scorer catalog.
/// </summary>
public interface IBatchScorer
{
    /// <summary>
    /// Returns NeuronCount × <see cref="ScoringBatch.VariantsPerNeuron"/> triples: neuron i's
    /// <see cref="ScoreVariant"/> v is at <see cref="ScoringBatch.ResultIndex"/>(i, v), i.e. i·3 + v.
    /// Each score is over the variant's tokens concatenated, null where undefined (as in <see cref="ScoreCalculator"/>).
    /// </summary>
    ScoreTriple[] Score(ScoringBatch batch);
}
