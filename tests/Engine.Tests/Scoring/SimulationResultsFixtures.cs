using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Scoring;

/// <summary>Builds results in OpenAI's shape, for the JSON and runner tests.</summary>
internal static class SimulationResultsFixtures
{
    /// <summary>
    /// A line as OpenAI's FastDataclass/orjson writes it: dataclass_name first, NaN as null, an
    /// uncalibrated_simulation field we do not model, distribution lists per token.
    /// </summary>
    public const string OpenAiStyleLine =
        """{"dataclass_name":"NeuronSimulationResults","neuron_id":{"dataclass_name":"NeuronId","layer_index":3,"neuron_index":17},"scored_explanations":[{"dataclass_name":"ScoredExplanation","explanation":" the word \"café\" and ☕","scored_simulation":{"dataclass_name":"ScoredSimulation","scored_sequence_simulations":[{"dataclass_name":"ScoredSequenceSimulation","simulation":{"dataclass_name":"SequenceSimulation","tokens":["A"," caf","é"],"expected_activations":[0.0,1.25,null],"activation_scale":"simulated_normalized_activations","distribution_values":[[0,1],[1,2],[]],"distribution_probabilities":[[0.75,0.25],[0.75,0.25],[]],"uncalibrated_simulation":null},"true_activations":[0.0,0.5,2.0],"ev_correlation_score":null,"rsquared_score":0.5,"absolute_dev_explained_score":-1.5e-07}],"ev_correlation_score":0.25,"rsquared_score":null,"absolute_dev_explained_score":null}}]}""";

    public static ScoredSequenceSimulation Sequence(double[] trueActs, double[] expected, double? storedScore = 0.123)
    {
        var tokens = Enumerable.Range(0, trueActs.Length).Select(i => $" tok{i}").ToArray();
        return new ScoredSequenceSimulation
        {
            Simulation = new SequenceSimulation
            {
                Tokens = tokens,
                ExpectedActivations = expected,
                ActivationScale = "simulated_normalized_activations",
                DistributionValues = expected.Select(v => new[] { Math.Floor(v), Math.Floor(v) + 1 }).ToArray(),
                DistributionProbabilities = expected.Select(_ => new[] { 0.5, 0.5 }).ToArray(),
            },
            TrueActivations = trueActs,
            EvCorrelationScore = storedScore,
            RsquaredScore = storedScore,
            AbsoluteDevExplainedScore = storedScore,
        };
    }

    public static NeuronSimulationResults Neuron(int layer, int neuron, string explanation,
        IEnumerable<ScoredSequenceSimulation> sequences, double? storedScore = 0.999) =>
        new()
        {
            NeuronId = new NeuronId { LayerIndex = layer, NeuronIndex = neuron },
            ScoredExplanations =
            [
                new ScoredExplanation
                {
                    Explanation = explanation,
                    ScoredSimulation = new ScoredSimulation
                    {
                        ScoredSequenceSimulations = sequences.ToArray(),
                        EvCorrelationScore = storedScore,
                        RsquaredScore = storedScore,
                        AbsoluteDevExplainedScore = storedScore,
                    },
                },
            ],
        };

    /// <summary>The hand-checkable neuron: top [0, 0.5, 2]/[0, 1, 9], random [0.1, 0, 0]/[0, 0, 0].</summary>
    public static NeuronSimulationResults HandCheckable(int layer, int neuron, double? storedScore = 0.999) =>
        Neuron(layer, neuron, " hand-checkable", [Sequence([0, 0.5, 2], [0, 1, 9]), Sequence([0.1, 0, 0], [0, 0, 0])],
            storedScore);
}
