namespace NeuronEngine.Scoring;

/// <summary>
/// A linear map p' = Slope·p + Intercept from simulated values (OpenAI's 0–10 scale) to the neuron's
/// activation units, as OpenAI's LinearCalibratedNeuronSimulator fits with least squares.
/// </summary>
public readonly record struct LinearCalibration(double Slope, double Intercept)
{
    public static LinearCalibration Identity => new(1, 0);

    /// <summary>
    /// Ordinary least squares of true on expected over the calibration tokens (two-pass, double).
    /// Degenerate cases return <see cref="Identity"/>, i.e. calibration is skipped: no calibration tokens,
    /// or a constant predictor (zero variance of expected). sklearn would fit slope 0 and intercept
    /// mean(true) there, turning every prediction into one constant, which leaves the correlation
    /// undefined and the other scores meaningless; keeping the raw predictions is the more useful choice.
    /// A non-finite fit (NaN inputs) is also treated as degenerate.
    /// </summary>
    public static LinearCalibration Fit(ReadOnlySpan<double> trueActs, ReadOnlySpan<double> expected)
    {
        if (trueActs.Length != expected.Length)
            throw new ArgumentException($"{trueActs.Length} true activations but {expected.Length} expected activations.");
        int n = trueActs.Length;
        // Exact test: a two-pass variance of a constant can still come out a few ulps above 0.
        if (n == 0 || ScoreCalculator.IsConstant(expected)) return Identity;
        double meanT = 0, meanP = 0;
        for (int i = 0; i < n; i++) { meanT += trueActs[i]; meanP += expected[i]; }
        meanT /= n;
        meanP /= n;
        double sxx = 0, sxy = 0;
        for (int i = 0; i < n; i++)
        {
            double dp = expected[i] - meanP;
            sxx += dp * dp;
            sxy += dp * (trueActs[i] - meanT);
        }
        if (!(sxx > 0)) return Identity;
        double slope = sxy / sxx, intercept = meanT - slope * meanP;
        return double.IsFinite(slope) && double.IsFinite(intercept) ? new(slope, intercept) : Identity;
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
