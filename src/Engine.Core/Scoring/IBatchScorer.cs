namespace NeuronEngine.Scoring;

/// <summary>
/// Scores every neuron of a packed batch. Implementations: <see cref="CpuBatchScorer"/> (managed,
/// multi-threaded); a device scorer (ILGPU) follows with the same contract.
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
