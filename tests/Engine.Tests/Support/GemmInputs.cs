namespace NeuronEngine.Tests.Support;

/// <summary>Seeded inputs of a GEMM y = x·W + b ([m, k], [k, n], [n]), uniform in [−1, 1): the GEMM kernels' tests share them.</summary>
internal static class GemmInputs
{
    public static (float[] X, float[] W, float[] B) Random(int m, int k, int n, int seed)
    {
        var rng = new System.Random(seed);
        float Next() => rng.NextSingle() * 2 - 1;
        return (Enumerable.Range(0, m * k).Select(_ => Next()).ToArray(),
                Enumerable.Range(0, k * n).Select(_ => Next()).ToArray(),
                Enumerable.Range(0, n).Select(_ => Next()).ToArray());
    }
}
