using NeuronEngine.IO;

namespace NeuronEngine.Cli.Reporting;

/// <summary>Draws the distribution of explanation scores as a PNG bar chart (ScottPlot on SkiaSharp).</summary>
internal static class ScoreHistogram
{
    public const int WidthPixels = 800;
    public const int HeightPixels = 500;

    /// <summary>
    /// Writes a histogram of the finite scores to <paramref name="path"/> (atomically). Correlation scores
    /// live in [-1, 1], so that range is always shown; scores outside it widen the range to whole units.
    /// </summary>
    public static void WritePng(IEnumerable<double> scores, string path)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var finite = scores.Where(double.IsFinite).ToArray();
        double low = Math.Min(-1, finite.Length == 0 ? -1 : Math.Floor(finite.Min()));
        double high = Math.Max(1, finite.Length == 0 ? 1 : Math.Ceiling(finite.Max()));
        // 0.05-wide bins over [-1, 1]; a wider range (R² far below −1) keeps the bar count at 40–80.
        double binWidth = high - low <= 4 ? 0.05 : (high - low) / 80;
        int bins = Math.Max(1, (int)Math.Round((high - low) / binWidth));

        var counts = CountBins(finite, low, binWidth, bins);

        var plot = new ScottPlot.Plot();
        var bars = Enumerable.Range(0, bins)
            .Select(i => new ScottPlot.Bar
            {
                Position = low + (i + 0.5) * binWidth,
                Value = counts[i],
                Size = binWidth * 0.9,
                LineWidth = 0,
            })
            .ToArray();
        plot.Add.Bars(bars);
        plot.Axes.Margins(bottom: 0);
        plot.Title($"Explanation scores (n = {finite.Length})");
        plot.XLabel("score");
        plot.YLabel("neurons");

        byte[] png = plot.GetImageBytes(WidthPixels, HeightPixels, ScottPlot.ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, png);
    }

    /// <summary>Counts values into bins [low + i·width, low + (i+1)·width); the top edge goes into the last bin.</summary>
    internal static int[] CountBins(IEnumerable<double> values, double low, double binWidth, int bins)
    {
        var counts = new int[bins];
        foreach (double value in values)
        {
            int bin = (int)Math.Floor((value - low) / binWidth);
            if (bin >= 0 && bin <= bins) counts[Math.Min(bin, bins - 1)]++;
        }
        return counts;
    }
}
