using NeuronEngine.Forward;

namespace NeuronEngine.Ablation;

/// <summary>What ablating one neuron does to the model's next-token predictions, averaged over the windows.</summary>
/// <param name="DeltaLoss">mean over predicted positions (t &lt; T−1) of loss(ablated) − loss(original), nats</param>
/// <param name="Kl">mean over all positions of KL(original ‖ ablated), nats</param>
/// <param name="MeanDeltaLogProb">per vocabulary token: mean over all positions of log p_ablated − log p_original</param>
public sealed record NeuronAblationEffect(int Layer, int Neuron, float AblationValue, double DeltaLoss, double Kl, float[] MeanDeltaLogProb);

/// <summary>
/// Measures neuron ablations with patched forward passes: per window, one batch of 1 + k elements fanned out from the
/// window (layers below the neuron's computed once) — the real run, then k neurons each overwritten with its ablation
/// value at every position — and the log-probabilities compared element by element as they arrive.
/// </summary>
internal sealed class AblationMeasure(IForwardDevice device, int vocab, int seqLen)
{
    /// <summary>
    /// Effects of ablating <paramref name="neurons"/> of <paramref name="layer"/> (value <paramref name="values"/>[i] for
    /// neurons[i]) over <paramref name="windows"/> (token arrays of seqLen), <paramref name="perBatch"/> neurons per batch.
    /// </summary>
    public NeuronAblationEffect[] Measure(int layer, int[] neurons, float[] values, IReadOnlyList<int[]> windows, int perBatch,
        Action? onBatch = null, CancellationToken cancel = default)
    {
        var effects = new NeuronAblationEffect[neurons.Length];
        perBatch = Math.Max(1, perBatch);
        for (int c0 = 0; c0 < neurons.Length; c0 += perBatch)
        {
            int k = Math.Min(perBatch, neurons.Length - c0);
            var sink = new Comparison(k, vocab, seqLen);
            var patches = new MlpPatch?[1 + k];
            for (int i = 0; i < k; i++) patches[1 + i] = MlpPatch.Constant(layer, neurons[c0 + i], values[c0 + i], seqLen);
            var fanOut = new int[1 + k];
            foreach (var tokens in windows)
            {
                cancel.ThrowIfCancellationRequested();
                sink.Begin(tokens);
                device.Run(tokens, 1, seqLen, new ForwardRequest { LogProbs = sink, Patches = patches, FanOut = fanOut });
                onBatch?.Invoke();
            }
            for (int i = 0; i < k; i++)
            {
                long positions = (long)windows.Count * seqLen, predicted = (long)windows.Count * (seqLen - 1);
                var mean = new float[vocab];
                for (int v = 0; v < vocab; v++) mean[v] = (float)(sink.DeltaLogProb[i][v] / positions);
                effects[c0 + i] = new NeuronAblationEffect(layer, neurons[c0 + i], values[c0 + i],
                    sink.DeltaLoss[i] / predicted, sink.Kl[i] / positions, mean);
            }
        }
        return effects;
    }

    /// <summary>
    /// Element 0 (the real run) arrives first (rows in ascending order) and is kept; every later row is compared with the
    /// real row of its position: Δloss at the next token, KL(p ‖ q) = Σ_v p_v (log p_v − log q_v), Δ log-probabilities.
    /// </summary>
    private sealed class Comparison(int k, int vocab, int seqLen) : ILogProbSink
    {
        public readonly double[] DeltaLoss = new double[k], Kl = new double[k];
        public readonly double[][] DeltaLogProb = Enumerable.Range(0, k).Select(_ => new double[vocab]).ToArray();
        private readonly float[] _real = new float[seqLen * vocab];
        private int[] _tokens = [];

        public void Begin(int[] tokens) => _tokens = tokens;

        public void OnLogProbs(int firstRow, int rows, int v, ReadOnlySpan<float> logProbs)
        {
            for (int r = 0; r < rows; r++)
            {
                int row = firstRow + r, element = row / seqLen, t = row % seqLen;
                var lp = logProbs.Slice(r * vocab, vocab);
                if (element == 0) { lp.CopyTo(_real.AsSpan(t * vocab, vocab)); continue; }
                var real = _real.AsSpan(t * vocab, vocab);
                int i = element - 1;
                if (t < seqLen - 1) DeltaLoss[i] += real[_tokens[t + 1]] - lp[_tokens[t + 1]];
                double kl = 0;
                var delta = DeltaLogProb[i];
                for (int j = 0; j < vocab; j++)
                {
                    double d = (double)lp[j] - real[j];
                    kl -= Math.Exp(real[j]) * d;
                    delta[j] += d;
                }
                Kl[i] += kl;
            }
        }
    }

    /// <summary>The <paramref name="top"/> tokens of largest <paramref name="score"/> (ties: lower id first), best first.</summary>
    public static int[] TopTokens(ReadOnlySpan<float> values, int top, Func<float, float> score)
    {
        var ids = new int[values.Length];
        var keys = new float[values.Length];
        for (int i = 0; i < ids.Length; i++) { ids[i] = i; keys[i] = score(values[i]); }
        var keyed = keys;
        Array.Sort(ids, (a, b) => keyed[b].CompareTo(keyed[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return ids[..Math.Min(top, ids.Length)];
    }
}
