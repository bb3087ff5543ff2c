using NeuronEngine.Model;
using NeuronEngine.Related;

namespace NeuronEngine.Tests.Related;

/// <summary>
/// docs/related.md computed the slow, obvious way in float64 from the stored weights: every (token, neuron) value
/// of both sides, then each neuron's lists by a full sort (value, then token id). The yardstick of `engine related`.
/// <list type="bullet">
/// <item>OpenAI's definition (their README, HF layout): input[t, n] = Σ_i wte[t, i]·γ₂[i]·c_fc[i, n];
/// output[t, n] = Σ_i c_proj[n, i]·γ_f[i]·wte[t, i].</item>
/// <item>direct path: input[t, n] = LayerNorm₂(wte[t] (+ wpe[0]))·c_fc[:, n] + b_fc[n];
/// output[t, n] = Σ_i γ_f[i]·(c_proj[n, i] − mean_i' c_proj[n, i'])·wte[t, i].</item>
/// </list>
/// </summary>
public sealed class BruteForceRelated
{
    public int Vocab { get; }
    public int Neurons { get; }
    /// <summary>[V, N]: the neuron's pre-activation for the token's embedding alone.</summary>
    public double[] Input { get; }
    /// <summary>[V, N]: the token's logit change along the neuron's output direction.</summary>
    public double[] Output { get; }

    public BruteForceRelated(Gpt2Weights weights, int layer, RelatedDefinition definition, bool withPositionZero = false)
    {
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp, v = c.VocabSize;
        Vocab = v; Neurons = n;
        double[] D(string name) => weights.Floats(name).ToArray().Select(x => (double)x).ToArray();
        var wte = D("wte.weight");
        var wpe = D("wpe.weight");
        var g2 = D($"h.{layer}.ln_2.weight");
        var b2 = D($"h.{layer}.ln_2.bias");
        var fcW = D($"h.{layer}.mlp.c_fc.weight");
        var fcB = D($"h.{layer}.mlp.c_fc.bias");
        var proj = D($"h.{layer}.mlp.c_proj.weight");
        var gf = D("ln_f.weight");
        double eps = c.LayerNormEpsilon;

        bool openAi = definition == RelatedDefinition.OpenAi;
        // Output directions: u[n, i] = γ_f[i]·W_proj[n, i] (OpenAI's), or γ_f[i]·(W_proj[n, i] − mean_i' W_proj[n, ·]).
        var u = new double[n * d];
        for (int j = 0; j < n; j++)
        {
            double mean = 0;
            for (int i = 0; i < d; i++) mean += proj[j * d + i];
            mean = openAi ? 0 : mean / d;
            for (int i = 0; i < d; i++) u[j * d + i] = gf[i] * (proj[j * d + i] - mean);
        }

        Input = new double[(long)v * n];
        Output = new double[(long)v * n];
        var input = Input;
        var output = Output;
        Parallel.For(0, v, t =>
        {
            var x = new double[d];
            for (int i = 0; i < d; i++) x[i] = wte[(long)t * d + i] + (withPositionZero ? wpe[i] : 0);
            double mean = x.Average(), variance = x.Select(e => (e - mean) * (e - mean)).Average();
            var m = new double[d];
            for (int i = 0; i < d; i++) m[i] = openAi ? x[i] * g2[i] : (x[i] - mean) / Math.Sqrt(variance + eps) * g2[i] + b2[i];
            for (int j = 0; j < n; j++)
            {
                double pre = openAi ? 0 : fcB[j], logit = 0;
                for (int i = 0; i < d; i++)
                {
                    pre += m[i] * fcW[(long)i * n + j];
                    logit += u[j * d + i] * wte[(long)t * d + i];
                }
                input[(long)t * n + j] = pre;
                output[(long)t * n + j] = logit;
            }
        });
    }

    public double Value(RelatedList list, int token, int neuron) =>
        (list is RelatedList.InputPositive or RelatedList.InputNegative ? Input : Output)[(long)token * Neurons + neuron];

    /// <summary>The neuron's list: (token, value) best first — descending values for positive lists, ascending for negative; ties → lower token.</summary>
    public (int Token, double Value)[] List(RelatedList list, int neuron, int top)
    {
        var values = list is RelatedList.InputPositive or RelatedList.InputNegative ? Input : Output;
        bool high = list is RelatedList.InputPositive or RelatedList.OutputPositive;
        var all = Enumerable.Range(0, Vocab).Select(t => (Token: t, Value: values[(long)t * Neurons + neuron]));
        return (high ? all.OrderByDescending(e => e.Value) : all.OrderBy(e => e.Value)).ThenBy(e => e.Token).Take(top).ToArray();
    }
}
