namespace NeuronEngine.Scoring;

/// <summary>
/// A linear map p' = Slope·p + Intercept from simulated values (OpenAI's 0–10 scale) to the neuron's
/// activation units, as OpenAI's LinearCalibratedNeuronSimulator fits it (sklearn's LinearRegression of
/// true on expected over the calibration split).
/// </summary>
internal readonly record struct LinearCalibration(double Slope, double Intercept)
{
    public static LinearCalibration Identity => new(1, 0);

    /// <summary>
    /// Ordinary least squares of true on expected over the calibration tokens (two-pass, double), with
    /// sklearn's answers in the degenerate cases so calibrated scores match OpenAI's: a constant predictor
    /// (zero variance of expected) gets slope 0 and intercept mean(true) — lstsq's minimum-norm solution —
    /// which turns every prediction into that mean. Null when there is nothing to fit (no calibration
    /// tokens; sklearn raises) or the fit is not finite (NaN inputs).
    /// </summary>
    public static LinearCalibration? Fit(ReadOnlySpan<double> trueActs, ReadOnlySpan<double> expected)
    {
        if (trueActs.Length != expected.Length)
            throw new ArgumentException($"{trueActs.Length} true activations but {expected.Length} expected activations.");
        int n = trueActs.Length;
        if (n == 0) return null;
        double meanT = 0, meanP = 0;
        for (int i = 0; i < n; i++) { meanT += trueActs[i]; meanP += expected[i]; }
        meanT /= n;
        meanP /= n;
        double sxx = 0, sxy = 0;
        // Exact test: a two-pass variance of a constant can still come out a few ulps above 0.
        if (!ScoreCalculator.IsConstant(expected))
            for (int i = 0; i < n; i++)
            {
                double dp = expected[i] - meanP;
                sxx += dp * dp;
                sxy += dp * (trueActs[i] - meanT);
            }
        double slope = sxx > 0 ? sxy / sxx : 0;
        double intercept = meanT - slope * meanP;
        return double.IsFinite(slope) && double.IsFinite(intercept) ? new(slope, intercept) : null;
    }

    public double Apply(double value) => Slope * value + Intercept;

    public void ApplyInPlace(Span<double> values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = Apply(values[i]);
    }

    public void ApplyInPlace(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (float)Apply(values[i]);
    }
}
