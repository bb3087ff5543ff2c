using NeuronEngine.Model;

namespace NeuronEngine.Related;

/// <summary>The weight-only quantities of `engine related` (docs/related.md).</summary>
public static class RelatedMath
{
    /// <summary>
    /// The output directions as a [d, N] matrix B (Conv1D layout, so that logits = wte·B): for neuron n,
    /// B[i, n] = γ_f[i]·(W_proj[n, i] − mean_i' W_proj[n, i']) — the neuron's row of mlp.c_proj.weight as the final
    /// LayerNorm sees it (centred, then scaled by ln_f.weight; LayerNorm's 1/σ is a positive factor common to every
    /// token and is left out, as is its bias, which does not depend on the neuron).
    /// </summary>
    public static float[] OutputDirections(Gpt2Weights weights, int layer)
    {
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp;
        var w = weights.Floats($"h.{layer}.mlp.c_proj.weight").ToArray();
        var gamma = weights.Floats("ln_f.weight").ToArray();
        var b = new float[(long)d * n];
        Parallel.For(0, n, j =>
        {
            double sum = 0;
            for (int i = 0; i < d; i++) sum += w[(long)j * d + i];
            double mean = sum / d;
            for (int i = 0; i < d; i++) b[(long)i * n + j] = (float)(gamma[i] * (w[(long)j * d + i] - mean));
        });
        return b;
    }
}
