using NeuronEngine.Model;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// A deliberately naive GPT-2 forward in double precision: plain loops, textbook formulas, nothing shared with
/// the engine's code but the weight reader. It is the yardstick the `cpu` device is measured against.
/// </summary>
public static class NaiveGpt2
{
    /// <summary>Post-GELU MLP activations of every layer up to <paramref name="lastLayer"/>: [layer][t, 4d] for one window.</summary>
    public static List<double[,]> MlpActivations(Gpt2Weights w, int[] tokens, int lastLayer, out double[,] finalResidual)
    {
        var c = w.Config;
        int T = tokens.Length, d = c.NEmbd, H = c.NHead, dh = d / H;
        double[] P(string name) => w.Floats(name).ToArray().Select(v => (double)v).ToArray();
        var wte = P("wte.weight"); var wpe = P("wpe.weight");
        var x = new double[T, d];
        for (int t = 0; t < T; t++)
            for (int i = 0; i < d; i++) x[t, i] = wte[tokens[t] * d + i] + wpe[t * d + i];
        var result = new List<double[,]>();
        for (int l = 0; l <= lastLayer; l++)
        {
            string p = $"h.{l}.";
            var a = LayerNorm(x, P(p + "ln_1.weight"), P(p + "ln_1.bias"), c.LayerNormEpsilon);
            var qkv = Linear(a, P(p + "attn.c_attn.weight"), P(p + "attn.c_attn.bias"), 3 * d);
            var y = new double[T, d];
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++)
                {
                    var s = new double[t + 1];
                    for (int u = 0; u <= t; u++)
                    {
                        double dot = 0;
                        for (int i = 0; i < dh; i++) dot += qkv[t, h * dh + i] * qkv[u, d + h * dh + i];
                        s[u] = dot / Math.Sqrt(dh);
                    }
                    double max = s.Max(), z = s.Sum(v => Math.Exp(v - max));
                    for (int u = 0; u <= t; u++)
                        for (int i = 0; i < dh; i++) y[t, h * dh + i] += Math.Exp(s[u] - max) / z * qkv[u, 2 * d + h * dh + i];
                }
            Add(x, Linear(y, P(p + "attn.c_proj.weight"), P(p + "attn.c_proj.bias"), d));
            var m = LayerNorm(x, P(p + "ln_2.weight"), P(p + "ln_2.bias"), c.LayerNormEpsilon);
            var hidden = Linear(m, P(p + "mlp.c_fc.weight"), P(p + "mlp.c_fc.bias"), 4 * d);
            for (int t = 0; t < T; t++)
                for (int j = 0; j < 4 * d; j++) hidden[t, j] = Gelu(hidden[t, j]);
            result.Add(hidden);
            Add(x, Linear(hidden, P(p + "mlp.c_proj.weight"), P(p + "mlp.c_proj.bias"), d));
        }
        finalResidual = x;
        return result;
    }

    public static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double[,] LayerNorm(double[,] x, double[] g, double[] b, double eps)
    {
        int T = x.GetLength(0), d = x.GetLength(1);
        var y = new double[T, d];
        for (int t = 0; t < T; t++)
        {
            double mean = 0, v = 0;
            for (int i = 0; i < d; i++) mean += x[t, i] / d;
            for (int i = 0; i < d; i++) v += (x[t, i] - mean) * (x[t, i] - mean) / d;
            for (int i = 0; i < d; i++) y[t, i] = (x[t, i] - mean) / Math.Sqrt(v + eps) * g[i] + b[i];
        }
        return y;
    }

    private static double[,] Linear(double[,] x, double[] w, double[] b, int n)
    {
        int T = x.GetLength(0), k = x.GetLength(1);
        var y = new double[T, n];
        for (int t = 0; t < T; t++)
            for (int j = 0; j < n; j++)
            {
                double acc = b[j];
                for (int i = 0; i < k; i++) acc += x[t, i] * w[i * n + j];
                y[t, j] = acc;
            }
        return y;
    }

    private static void Add(double[,] x, double[,] y)
    {
        for (int t = 0; t < x.GetLength(0); t++)
            for (int i = 0; i < x.GetLength(1); i++) x[t, i] += y[t, i];
    }
}
