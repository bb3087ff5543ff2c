using NeuronEngine.Scoring;
using Xunit;

namespace NeuronEngine.Tests.Scoring;

public class ScoreCalculatorTests
{
    // Hand-checkable vectors: true [0, 0.5, 2] / simulated [0, 1, 9] and true [0.1, 0, 0] / simulated [0, 0, 0].
    internal static readonly SequenceActivations First = new([0, 0.5, 2], [0, 1, 9]);
    internal static readonly SequenceActivations Second = new([0.1, 0, 0], [0, 0, 0]);

    [Fact]
    public void PerSequenceCorrelationMatchesHandComputation()
    {
        Assert.Equal(0.99007, ScoreCalculator.Correlation(First.TrueActivations, First.ExpectedActivations)!.Value, 1e-5);
        // The second simulation is all zeros: constant, so the correlation is undefined.
        Assert.Null(ScoreCalculator.Correlation(Second.TrueActivations, Second.ExpectedActivations));
    }

    [Fact]
    public void ScoresOverAllTokensConcatenatedMatchHandComputation()
    {
        var scores = ScoreCalculator.Score([First, Second]);
        Assert.Equal(0.99014, scores.EvCorrelation!.Value, 1e-5);
        Assert.Equal(-10.5634, scores.RSquared!.Value, 1e-4);
        Assert.Equal(-10.56338, scores.RSquared!.Value, 1e-5);
        Assert.Equal(-1.92308, scores.AbsoluteDevExplained!.Value, 1e-5);
    }

    [Fact]
    public void ConcatenatedScoreIsNotTheMeanOfSequenceScores()
    {
        // Guards against averaging per sequence: the mean of (0.99007, undefined) is not 0.99014.
        double perSequenceMean = ScoreCalculator.Correlation(First.TrueActivations, First.ExpectedActivations)!.Value;
        Assert.NotEqual(perSequenceMean, ScoreCalculator.Score([First, Second]).EvCorrelation!.Value, 1e-5);
    }

    [Theory]
    [InlineData(new[] { 1.0, 1.0, 1.0 }, new[] { 0.0, 2.0, 5.0 })]   // constant true
    [InlineData(new[] { 0.0, 2.0, 5.0 }, new[] { 3.0, 3.0, 3.0 })]   // constant simulation
    [InlineData(new[] { 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 }, new[] { 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 })] // mean rounds
    [InlineData(new double[0], new double[0])]                       // no tokens
    public void ConstantOrEmptyInputsGiveNullCorrelation(double[] trueActs, double[] expected)
    {
        Assert.Null(ScoreCalculator.Correlation(trueActs, expected));
    }

    [Fact]
    public void AllZeroTrueActivationsGiveNullRatioScores()
    {
        var scores = ScoreCalculator.Score([0.0, 0.0, 0.0], [1.0, 2.0, 3.0]);
        Assert.Equal(ScoreTriple.Undefined, scores);
    }

    [Fact]
    public void NonFiniteInputsGiveNullNotNaN()
    {
        var scores = ScoreCalculator.Score([1.0, double.NaN, 3.0], [1.0, 2.0, 3.0]);
        Assert.Equal(ScoreTriple.Undefined, scores);
    }

    [Fact]
    public void PerfectPredictionScoresOne()
    {
        var scores = ScoreCalculator.Score([0.0, 1.5, -2.0, 4.0], [0.0, 1.5, -2.0, 4.0]);
        Assert.Equal(new ScoreTriple(1.0, 1.0, 1.0), scores);
    }

    [Fact]
    public void VariantsSplitTopFromRandom()
    {
        var variants = ScoreCalculator.ScoreVariants([First, Second], topSequenceCount: 1);
        Assert.Equal(0.99014, variants.TopAndRandom.EvCorrelation!.Value, 1e-5);
        Assert.Equal(0.99007, variants.TopOnly.EvCorrelation!.Value, 1e-5);
        Assert.Null(variants.RandomOnly.EvCorrelation);
        Assert.Equal(0.0, variants.RandomOnly.RSquared!.Value, 1e-12); // 1 − 0.01/0.01
        Assert.Equal(variants.TopOnly, variants[ScoreVariant.TopOnly]);
    }

    [Fact]
    public void LinearCalibrationRecoversAffineMap()
    {
        double[] simulated = [0, 1, 2, 5, 10];
        double[] trueActs = simulated.Select(p => 0.25 * p - 0.5).ToArray();
        var fit = LinearCalibration.Fit(trueActs, simulated)!.Value;
        Assert.Equal(0.25, fit.Slope, 1e-12);
        Assert.Equal(-0.5, fit.Intercept, 1e-12);
    }

    [Fact]
    public void CalibrationMakesRSquaredPerfectForAffineSimulatorAndKeepsCorrelation()
    {
        var calibration = new SequenceActivations([-0.5, 0.0, 2.0], [0, 2, 10]);
        var scored = new SequenceActivations([0.25, 1.0, -0.25], [3, 6, 1]);
        var raw = ScoreCalculator.Score([scored]);
        var calibrated = ScoreCalculator.ScoreCalibrated([calibration], [scored]);
        Assert.True(raw.RSquared < 0);
        Assert.Equal(1.0, calibrated.RSquared!.Value, 1e-12);
        Assert.Equal(raw.EvCorrelation!.Value, calibrated.EvCorrelation!.Value, 1e-12);
    }

    [Fact]
    public void AConstantCalibrationPredictorFitsTheMeanAsSklearnDoes()
    {
        // sklearn's LinearRegression on a constant column: lstsq's minimum-norm slope 0, intercept mean(true).
        var calibration = new SequenceActivations([0.3, 0.1, 0.8], [0.1, 0.1, 0.1]);
        var fit = LinearCalibration.Fit(calibration.TrueActivations, calibration.ExpectedActivations)!.Value;
        Assert.Equal(0.0, fit.Slope);
        Assert.Equal(0.4, fit.Intercept, 1e-15);
        // Every prediction becomes 0.4: First [0, 0.5, 2] → R² = 1 − mean((t − 0.4)²)/mean(t²) = 1 − 2.73/4.25.
        var calibrated = ScoreCalculator.ScoreCalibrated([calibration], [First]);
        Assert.Null(calibrated.EvCorrelation);
        Assert.Equal(1 - 2.73 / 4.25, calibrated.RSquared!.Value, 1e-12);
        Assert.Null(LinearCalibration.Fit([], []));
        Assert.Equal(ScoreTriple.Undefined, ScoreCalculator.ScoreCalibrated([], [First]));
    }

    [Fact]
    public void MismatchedLengthsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new SequenceActivations([1, 2], [1]));
        Assert.Throws<ArgumentException>(() => ScoreCalculator.Score([1.0, 2.0], [1.0]));
    }
}
