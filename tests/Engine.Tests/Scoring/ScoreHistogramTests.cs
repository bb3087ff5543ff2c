using NeuronEngine.Cli.Reporting;
using Xunit;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Scoring;

public sealed class ScoreHistogramTests : IDisposable
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly TempDir _temp = new();
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void WritesAPngFile()
    {
        var random = new Random(1);
        var scores = Enumerable.Range(0, 500).Select(_ => random.NextDouble() * 1.6 - 0.6).Append(double.NaN).Append(-40);
        string path = Path.Combine(_dir, "plots", "scores.png");

        ScoreHistogram.WritePng(scores, path);

        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"only {bytes.Length} bytes");
        Assert.Equal(PngSignature, bytes[..8]);
        Assert.Equal(ScoreHistogram.WidthPixels, ReadBigEndian(bytes, 16));  // IHDR width
        Assert.Equal(ScoreHistogram.HeightPixels, ReadBigEndian(bytes, 20)); // IHDR height
    }

    [Fact]
    public void WritesAPngForNoScores()
    {
        string path = Path.Combine(_dir, "empty.png");
        ScoreHistogram.WritePng([], path);
        Assert.Equal(PngSignature, File.ReadAllBytes(path)[..8]);
    }

    [Fact]
    public void CountsEveryValueIntoOneBinIncludingTheTopEdge()
    {
        var counts = ScoreHistogram.CountBins([-1.0, -0.99, 0.0, 0.049, 0.05, 1.0], low: -1, binWidth: 0.05, bins: 40);
        Assert.Equal(6, counts.Sum());
        Assert.Equal(2, counts[0]);
        Assert.Equal(2, counts[20]);
        Assert.Equal(1, counts[21]);
        Assert.Equal(1, counts[39]);
    }

    private static int ReadBigEndian(byte[] bytes, int at) =>
        bytes[at] << 24 | bytes[at + 1] << 16 | bytes[at + 2] << 8 | bytes[at + 3];
}
