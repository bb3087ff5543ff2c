using NeuronEngine.Records;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Scoring;

/// <summary>The calibrated ratio scores of an explanation (null when it has no calibration simulations).</summary>
public readonly record struct CalibratedScores(double? RSquared, double? AbsoluteDevExplained);

/// <summary>
/// The one place that decides how a results file is scored (OpenAI keeps this in scoring.py), used by
/// `simulate`, `run` and `score` alike:
/// <list type="bullet">
/// <item>which scored sequences are top records and which random: the sidecar when there is one, else
/// OpenAI's layout (valid top records, then valid random ones: the first half top, a middle one top);</item>
/// <item>the scores: every score over the sequences concatenated, per variant (top and random, top only,
/// random only), and per sequence; summed in double from the values as read (<see cref="NeuronRescoring"/>
/// with <see cref="CpuBatchScorer"/>: each neuron's result depends on its own values only, so one neuron
/// scored alone and the same neuron in a batch of thousands agree bit for bit);</item>
/// <item>calibration: OpenAI's linear calibration fitted on the calibration split's simulations (from the
/// sidecar), applied to the scored sequences, then R² and absolute deviation explained.</item>
/// </list>
/// </summary>
public static class SimulationScoring
{
    /// <summary>
    /// OpenAI's results files hold the valid split's top records first, then as many random ones. With an
    /// odd count the middle sequence is counted as top.
    /// </summary>
    public static int TopSequenceCount(int sequenceCount) => (sequenceCount + 1) / 2;

    /// <summary>Per scored sequence of <paramref name="explanation"/>, whether it is a top record.</summary>
    public static bool[] TopFlags(ScoredExplanation explanation, ExplanationSidecar? sidecar)
    {
        int count = explanation.ScoredSimulation.ScoredSequenceSimulations.Length;
        if (sidecar is not null)
        {
            if (sidecar.Sequences.Length != count)
                throw new ArgumentException($"the sidecar lists {sidecar.Sequences.Length} sequences for {count} scored sequences", nameof(sidecar));
            return sidecar.Sequences.Select(s => s.Source == RecordSource.Top).ToArray();
        }
        int top = TopSequenceCount(count);
        return Enumerable.Range(0, count).Select(i => i < top).ToArray();
    }

    /// <summary>
    /// R² and absolute deviation explained after OpenAI's linear calibration: p' = a·p + b fitted by least
    /// squares on the calibration sequences (<see cref="LinearCalibration.Fit"/>), applied to the scored
    /// sequences concatenated. Correlation is not recomputed: a linear map leaves it as it is (up to sign).
    /// </summary>
    public static CalibratedScores Calibrated(ScoredExplanation explanation, ExplanationSidecar? sidecar)
    {
        if (sidecar?.CalibrationSequences is not { } calibration) return default;
        var (calibrationTrue, calibrationExpected) = SequenceActivations.Concatenate(
            calibration.Select(c => new SequenceActivations(c.TrueActivations, c.ExpectedActivations)));
        if (LinearCalibration.Fit(calibrationTrue, calibrationExpected) is not { } fit) return default;
        var (t, p) = SequenceActivations.Concatenate(explanation.ScoredSimulation.ScoredSequenceSimulations
            .Select(s => new SequenceActivations(s.TrueActivations, s.Simulation.ExpectedActivations)));
        fit.ApplyInPlace(p);
        return new CalibratedScores(ScoreCalculator.RSquared(t, p), ScoreCalculator.AbsoluteDevExplained(t, p));
    }

    /// <summary>
    /// One neuron's results with every stored score recomputed, and its scores.jsonl line: what `score`
    /// computes for the same file (it runs the same <see cref="NeuronRescoring"/> over chunks of neurons).
    /// </summary>
    public static (NeuronSimulationResults Rescored, NeuronScoreLine? Line) Rescore(NeuronSimulationResults results, SimulationSidecar? sidecar)
    {
        var rescoring = new NeuronRescoring();
        var slots = rescoring.Add(results, sidecar);
        rescoring.Score(HostScorer);
        return rescoring.Apply(results, sidecar, slots, results.NeuronId.LayerIndex, results.NeuronId.NeuronIndex);
    }

    /// <summary>The host scorer: double precision, values as read.</summary>
    public static IBatchScorer HostScorer { get; } = new CpuBatchScorer();
}
