using NeuronEngine.OpenAi;
namespace NeuronEngine.Scoring;

/// <summary>
/// Packs loaded results into scoring batches and writes the recomputed scores back into them
/// (<see cref="SimulationScoring"/> decides the split). Two batches per chunk: one slot per scored
/// explanation (all three variants; its top sequences first) and one slot per scored sequence (its own
/// scores, as OpenAI stores them per sequence).
/// </summary>
internal sealed class NeuronRescoring
{
    private readonly ScoringBatchBuilder _explanations = new();
    private readonly ScoringBatchBuilder _sequences = new();
    private ScoreTriple[] _explanationScores = [];
    private ScoreTriple[] _sequenceScores = [];

    /// <summary>Where one neuron's slots start in the two batches.</summary>
    public readonly record struct Slots(int FirstExplanation, int FirstSequence);

    /// <param name="sidecar">The results' sidecar (already checked against them), or null for OpenAI's layout.</param>
    public Slots Add(NeuronSimulationResults results, SimulationSidecar? sidecar)
    {
        var slots = new Slots(_explanations.NeuronCount, _sequences.NeuronCount);
        for (int e = 0; e < results.ScoredExplanations.Length; e++)
        {
            var explanation = results.ScoredExplanations[e];
            var sequences = explanation.ScoredSimulation.ScoredSequenceSimulations;
            var isTop = SimulationScoring.TopFlags(explanation, sidecar?.ScoredExplanations[e]);
            var top = new List<SequenceActivations>();
            var random = new List<SequenceActivations>();
            for (int s = 0; s < sequences.Length; s++)
            {
                var activations = new SequenceActivations(sequences[s].TrueActivations, sequences[s].Simulation.ExpectedActivations);
                (isTop[s] ? top : random).Add(activations);
                _sequences.AddSequence(sequences[s].TrueActivations, sequences[s].Simulation.ExpectedActivations);
            }
            _explanations.AddNeuron([.. top, .. random], top.Count);
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
        NeuronSimulationResults results, SimulationSidecar? sidecar, Slots slots, int layer, int neuron)
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
                var calibrated = SimulationScoring.Calibrated(original, sidecar?.ScoredExplanations[0]);
                line = new NeuronScoreLine(layer, neuron, original.Explanation, all.EvCorrelation, all.RSquared,
                    all.AbsoluteDevExplained, calibrated.RSquared, calibrated.AbsoluteDevExplained, top.EvCorrelation, random.EvCorrelation)
                {
                    Revision = RevisionOf(results, sidecar, slots),
                };
            }
        }
        return (results with { ScoredExplanations = explanations }, line);
    }

    /// <summary>The revision columns when the sidecar names candidates: the best is the first in the file, the first written has order 0.</summary>
    private RevisionColumns? RevisionOf(NeuronSimulationResults results, SimulationSidecar? sidecar, Slots slots)
    {
        if (sidecar?.ScoredExplanations is not [{ Candidate: { } best }, ..] side) return null;
        int first = Array.FindIndex(side, e => e.Candidate?.Order == 0);
        double? firstScore = first < 0 ? null : _explanationScores[ScoringBatch.ResultIndex(slots.FirstExplanation + first, ScoreVariant.TopAndRandom)].EvCorrelation;
        return new RevisionColumns(best.Name, first < 0 ? "" : results.ScoredExplanations[first].Explanation, firstScore, best.GenerationScore);
    }
}
