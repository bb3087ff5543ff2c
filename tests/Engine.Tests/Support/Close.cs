namespace NeuronEngine.Tests.Support;

/// <summary>Element-wise comparison against a reference with a relative tolerance floored at 1 (|a − e| ≤ tol·max(1, |e|)).</summary>
public static class Close
{
    public static void All(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance, string what = "")
    {
        Assert.True(expected.Length <= actual.Length, $"{what}: {actual.Length} values, {expected.Length} expected");
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (!(MathF.Abs(a - e) <= tolerance * MathF.Max(1f, MathF.Abs(e))))
                Assert.Fail($"{what}[{i}]: {a:R}, expected {e:R} (|Δ| = {MathF.Abs(a - e):E2} > {tolerance:E0}·max(1,|e|))");
        }
    }
}
