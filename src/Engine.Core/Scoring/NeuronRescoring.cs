namespace NeuronEngine.Scoring;

/// <summary>
/// Packs loaded results into scoring batches and writes the recomputed scores back into them.
/// Two batches per chunk: one slot per scored explanation (all three variants) and one slot per
/// scored sequence (its own scores, as OpenAI stores them per sequence).
/// </summary>
internal sealed class NeuronRescoring
{
    private readonly ScoringBatchBuilder _explanations = new();
    private readonly ScoringBatchBuilder _sequences = new();
    private ScoreTriple[] _explanationScores = [];
    private ScoreTriple[] _sequenceScores = [];

    /// <summary>
    /// In OpenAI's data the first half of a simulation's scored sequences are top records and the second
    /// half random. With an odd count the middle sequence is counted as top.
    /// </summary>
    public static int TopSequenceCount(int sequenceCount) => (sequenceCount + 1) / 2;

    /// <summary>Where one neuron's slots start in the two batches.</summary>
    public readonly record struct Slots(int FirstExplanation, int FirstSequence);

    public Slots Add(NeuronSimulationResults results)
    {
        var slots = new Slots(_explanations.NeuronCount, _sequences.NeuronCount);
        foreach (var explanation in results.ScoredExplanations)
        {
            var sequences = explanation.ScoredSimulation.ScoredSequenceSimulations;
            var activations = new SequenceActivations[sequences.Length];
            for (int s = 0; s < sequences.Length; s++)
            {
                activations[s] = new SequenceActivations(sequences[s].TrueActivations, sequences[s].Simulation.ExpectedActivations);
                _sequences.AddSequence(sequences[s].TrueActivations, sequences[s].Simulation.ExpectedActivations);
            }
            _explanations.AddNeuron(activations, TopSequenceCount(sequences.Length));
        }
        return slots;
    }

    public void Score(IBatchScorer scorer)
    {
        _explanationScores = scorer.Score(_explanations.Build());
        _sequenceScores = scorer.Score(_sequences.Build());
    }

    /// <summary>The results with every stored score replaced by the recomputed one, and the neuron's scores.jsonl line.</summary>
    public (NeuronSimulationResults Rescored, NeuronScoreLine? Line) Apply(
        NeuronSimulationResults results, Slots slots, int layer, int neuron)
    {
        var explanations = new ScoredExplanation[results.ScoredExplanations.Length];
        int sequenceSlot = slots.FirstSequence;
        NeuronScoreLine? line = null;
        for (int e = 0; e < explanations.Length; e++)
        {
            var original = results.ScoredExplanations[e];
            var sequences = (ScoredSequenceSimulation[])original.ScoredSimulation.ScoredSequenceSimulations.Clone();
            for (int s = 0; s < sequences.Length; s++)
            {
                var own = _sequenceScores[ScoringBatch.ResultIndex(sequenceSlot++, ScoreVariant.TopAndRandom)];
                sequences[s] = sequences[s] with
                {
                    EvCorrelationScore = own.EvCorrelation,
                    RsquaredScore = own.RSquared,
                    AbsoluteDevExplainedScore = own.AbsoluteDevExplained,
                };
            }
            int slot = slots.FirstExplanation + e;
            var all = _explanationScores[ScoringBatch.ResultIndex(slot, ScoreVariant.TopAndRandom)];
            explanations[e] = original with
            {
                ScoredSimulation = original.ScoredSimulation with
                {
                    ScoredSequenceSimulations = sequences,
                    EvCorrelationScore = all.EvCorrelation,
                    RsquaredScore = all.RSquared,
                    AbsoluteDevExplainedScore = all.AbsoluteDevExplained,
                },
            };
            if (e == 0)
            {
                var top = _explanationScores[ScoringBatch.ResultIndex(slot, ScoreVariant.TopOnly)];
                var random = _explanationScores[ScoringBatch.ResultIndex(slot, ScoreVariant.RandomOnly)];
                line = new NeuronScoreLine(layer, neuron, original.Explanation, all.EvCorrelation, all.RSquared,
                    all.AbsoluteDevExplained, top.EvCorrelation, random.EvCorrelation);
            }
        }
        return (results with { ScoredExplanations = explanations }, line);
    }
}
