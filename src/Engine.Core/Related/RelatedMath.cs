using NeuronEngine.Model;

namespace NeuronEngine.Related;

/// <summary>Which formulas `engine related` computes (docs/related.md, "Two definitions").</summary>
public enum RelatedDefinition
{
    /// <summary>
    /// OpenAI's, from their automated-interpretability README ("Definition of connection weights"), the one behind their
    /// published related-tokens/weight-based files: input wte[t]·diag(ln_2.g)·c_fc[:, n], output c_proj[n]·diag(ln_f.g)·wte[t].
    /// Weights only: no LayerNorm centring or 1/σ, no biases, no position embedding.
    /// </summary>
    OpenAi,
    /// <summary>The token's embedding through this layer's whole ln_2 and c_fc (with bias); the neuron's centred c_proj row through ln_f's scale.</summary>
    DirectPath,
}

public static class RelatedDefinitions
{
    public static readonly string[] Names = ["openai", "direct-path"];

    public static string Name(this RelatedDefinition definition) => Names[(int)definition];

    public static RelatedDefinition Parse(string name) => Array.IndexOf(Names, name) is >= 0 and int i
        ? (RelatedDefinition)i
        : throw new ArgumentException($"--definition: '{name}' is not one of {string.Join(", ", Names)}");
}

/// <summary>The weight-only matrices of `engine related` and `engine connections` (docs/related.md).</summary>
public static class RelatedMath
{
    /// <summary>
    /// The input directions of layer <paramref name="layer"/> as a [d, N] matrix (Conv1D layout, so that values = x·B):
    /// B[i, n] = γ₂[i]·W_fc[i, n], i.e. diag(h.l.ln_2.weight)·h.l.mlp.c_fc.weight — OpenAI's right-hand factor of both the
    /// token → neuron weight (x = wte[t]) and the neuron → neuron weight (x = an earlier neuron's c_proj row).
    /// </summary>
    public static float[] InputDirections(Gpt2Weights weights, int layer)
    {
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp;
        var w = weights.Floats($"h.{layer}.mlp.c_fc.weight").ToArray();
        var gamma = weights.Floats($"h.{layer}.ln_2.weight").ToArray();
        var b = new float[(long)d * n];
        Parallel.For(0, d, i =>
        {
            for (long j = (long)i * n, end = j + n; j < end; j++) b[j] = gamma[i] * w[j];
        });
        return b;
    }

    /// <summary>
    /// The output directions as a [d, N] matrix B (Conv1D layout, so that logits = wte·B), from the neuron's row of
    /// mlp.c_proj.weight and ln_f.weight (γ_f):
    /// <list type="bullet">
    /// <item><see cref="RelatedDefinition.OpenAi"/>: B[i, n] = γ_f[i]·W_proj[n, i] (c_proj[n]·diag(ln_f.g));</item>
    /// <item><see cref="RelatedDefinition.DirectPath"/>: B[i, n] = γ_f[i]·(W_proj[n, i] − mean_i' W_proj[n, i']) — the row
    /// as the final LayerNorm sees it (centred, then scaled; its 1/σ is a positive factor common to every token and is
    /// left out, as is its bias, which does not depend on the neuron).</item>
    /// </list>
    /// </summary>
    public static float[] OutputDirections(Gpt2Weights weights, int layer, RelatedDefinition definition)
    {
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp;
        var w = weights.Floats($"h.{layer}.mlp.c_proj.weight").ToArray();
        var gamma = weights.Floats("ln_f.weight").ToArray();
        var b = new float[(long)d * n];
        Parallel.For(0, n, j =>
        {
            double mean = 0;
            if (definition == RelatedDefinition.DirectPath)
            {
                for (int i = 0; i < d; i++) mean += w[(long)j * d + i];
                mean /= d;
            }
            for (int i = 0; i < d; i++) b[(long)i * n + j] = (float)(gamma[i] * (w[(long)j * d + i] - mean));
        });
        return b;
    }
}
