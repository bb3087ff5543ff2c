using NeuronEngine.Cpu;

namespace NeuronEngine.Tests.Cpu;

/// <summary>The CPU operations against values computed by hand (Python's math module, float64).</summary>
public unsafe class CpuMathTests
{
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(1.0, 0.8411919906082768)]
    [InlineData(-1.0, -0.15880800939172324)]
    [InlineData(3.0, 2.996362607918227)]
    [InlineData(-3.0, -0.0036373920817729943)]
    [InlineData(0.5, 0.34571400982514394)]
    public void GeluIsGpt2sTanhGelu(double x, double expected) =>
        Assert.Equal(expected, CpuMath.Gelu((float)x), 6); // float32 evaluation: 1e-6 absolute

    [Fact]
    public void LayerNormMatchesHandComputedValues()
    {
        float[] x = [1, 2, 3, 4, 10, 10, 10, 10], y = new float[8], g = [1, 1, 1, 1], b = [0, 0, 0, 0];
        fixed (float* px = x, py = y, pg = g, pb = b) CpuMath.LayerNorm(px, py, pg, pb, 2, 4, 1e-5f);
        double[] expected = [-1.3416354199689269, -0.447211806656309, 0.447211806656309, 1.3416354199689269, 0, 0, 0, 0];
        for (int i = 0; i < 8; i++) Assert.Equal(expected[i], y[i], 5);
    }

    [Fact]
    public void LayerNormAppliesGainAndBias()
    {
        float[] x = [1, 2, 3, 4], y = new float[4], g = [2, 2, 2, 2], b = [1, 1, 1, 1];
        fixed (float* px = x, py = y, pg = g, pb = b) CpuMath.LayerNorm(px, py, pg, pb, 1, 4, 1e-5f);
        Assert.Equal(2 * -1.3416354199689269 + 1, y[0], 5);
        Assert.Equal(2 * 1.3416354199689269 + 1, y[3], 5);
    }

    [Fact]
    public void CausalAttentionSoftmaxesOverThePastOnly()
    {
        // One head, d = 2. Token 0: q=(1,0) k=(1,1) v=(2,3); token 1: q=(0,2) k=(1,-1) v=(-1,4).
        float[] qkv = [1, 0, 1, 1, 2, 3, 0, 2, 1, -1, -1, 4], o = new float[4];
        fixed (float* pq = qkv, po = o) CpuMath.CausalAttention(pq, po, 1, 2, 2, 1);
        Assert.Equal(2, o[0], 6);      // token 0 sees only itself
        Assert.Equal(3, o[1], 6);
        Assert.Equal(1.832578342378491, o[2], 5); // softmax weights 0.94419 / 0.05581
        Assert.Equal(3.0558072192071695, o[3], 5);
    }

    [Fact]
    public void SoftmaxIsSafeForHugeScores()
    {
        float[] qkv = [1000, 1000, 1, 0, 5, 5], o = new float[2];
        fixed (float* pq = qkv, po = o) CpuMath.CausalAttention(pq, po, 1, 1, 2, 1);
        Assert.Equal(5, o[0]);
        Assert.Equal(5, o[1]);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(5, 7, 33)]
    [InlineData(9, 13, 16)]
    [InlineData(4, 64, 48)]
    public void MatMulBiasMatchesDoubleLoops(int m, int k, int n)
    {
        var rng = new Random(m * 1000 + k * 10 + n);
        float[] x = Rand(rng, m * k), w = Rand(rng, k * n), b = Rand(rng, n), y = new float[m * n], yg = new float[m * n];
        fixed (float* px = x, pw = w, pb = b, py = y, pyg = yg)
        {
            CpuMath.MatMulBias(px, pw, pb, py, m, k, n, gelu: false);
            CpuMath.MatMulBias(px, pw, pb, pyg, m, k, n, gelu: true);
        }
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
            {
                double acc = b[c];
                for (int i = 0; i < k; i++) acc += (double)x[r * k + i] * w[i * n + c];
                Assert.True(Math.Abs(y[r * n + c] - acc) <= 1e-5 * Math.Max(1, Math.Abs(acc)), $"y[{r},{c}] = {y[r * n + c]}, expected {acc}");
                double gelu = Support.NaiveGpt2.Gelu(acc);
                Assert.True(Math.Abs(yg[r * n + c] - gelu) <= 1e-5 * Math.Max(1, Math.Abs(gelu)));
            }
    }

    private static float[] Rand(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
