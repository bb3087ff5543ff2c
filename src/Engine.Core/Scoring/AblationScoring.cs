using NeuronEngine.Forward;

namespace NeuronEngine.Scoring;

/// <summary>
/// One scored sequence of an ablation score: the window's token ids and the neuron's activations to put in place of the
/// real ones — the simulation mapped to activation units by the results' calibration — and the mean-ablation value.
/// </summary>
public sealed record AblationItem(int Layer, int Neuron, int[] Tokens, float[] Simulated, float Mean);

/// <summary>Sums over one item's positions: JSD(real, simulated) and JSD(real, mean-ablated), nats.</summary>
public readonly record struct AblationSums(double JsdSimulated, double JsdMeanAblated, int Positions);

/// <summary>
/// The ablation score (docs/ablation.md): each item runs three ways in one fanned-out batch — real (unpatched), the
/// neuron's activations replaced by the simulated ones, and mean-ablated — and the next-token distributions of every
/// position are compared with the Jensen–Shannon divergence. Many items per device batch (three elements each, the
/// layers below the lowest patched layer once per window); items are grouped by window length.
/// </summary>
public sealed class AblationScorer(IForwardDevice device, int vocab)
{
    /// <summary>
    /// Below this mean JSD(real, mean-ablated) per position (nats) mean ablation does not move the predictions at all
    /// (float32 noise is ~1e-9): the ratio is undefined and the score is null.
    /// </summary>
    public const double DenominatorGuard = 1e-9;

    /// <summary>1 − mean JSD(real, sim) / mean JSD(real, mean) over all positions of the items; null under the guard.</summary>
    public static double? Score(IEnumerable<AblationSums> sums)
    {
        double sim = 0, mean = 0;
        long positions = 0;
        foreach (var s in sums) { sim += s.JsdSimulated; mean += s.JsdMeanAblated; positions += s.Positions; }
        if (positions == 0 || mean / positions < DenominatorGuard) return null;
        return 1 - sim / mean;
    }

    /// <summary>
    /// JSD(P, Q) = ½ Σ p log(p/m) + ½ Σ q log(q/m), m = (p + q)/2, from log-probabilities, in double, natural log: 0 for
    /// equal distributions, at most ln 2.
    /// </summary>
    public static double Jsd(ReadOnlySpan<float> logP, ReadOnlySpan<float> logQ)
    {
        double sum = 0;
        for (int i = 0; i < logP.Length; i++)
        {
            double p = Math.Exp(logP[i]), q = Math.Exp(logQ[i]), m = 0.5 * (p + q);
            if (m <= 0) continue;
            double logM = Math.Log(m);
            if (p > 0) sum += 0.5 * p * (logP[i] - logM);
            if (q > 0) sum += 0.5 * q * (logQ[i] - logM);
        }
        return Math.Max(0, sum);
    }

    /// <summary>The JSD sums of every item, <paramref name="itemsPerBatch"/> items (3 elements each) per device batch.</summary>
    public AblationSums[] Measure(IReadOnlyList<AblationItem> items, int itemsPerBatch, Action<int>? onItems = null, CancellationToken cancel = default)
    {
        var result = new AblationSums[items.Count];
        itemsPerBatch = Math.Max(1, itemsPerBatch);
        // Same window length per batch; by layer so that a batch's fan-out starts as high as it can.
        foreach (var group in Enumerable.Range(0, items.Count).GroupBy(i => items[i].Tokens.Length))
        {
            var order = group.OrderBy(i => items[i].Layer).ToArray();
            int seqLen = group.Key;
            for (int b0 = 0; b0 < order.Length; b0 += itemsPerBatch)
            {
                cancel.ThrowIfCancellationRequested();
                var batch = order[b0..Math.Min(order.Length, b0 + itemsPerBatch)];
                var tokens = new int[batch.Length * seqLen];
                var patches = new MlpPatch?[3 * batch.Length];
                var fanOut = new int[3 * batch.Length];
                for (int w = 0; w < batch.Length; w++)
                {
                    var item = items[batch[w]];
                    item.Tokens.CopyTo(tokens, w * seqLen);
                    patches[3 * w + 1] = new MlpPatch(item.Layer, item.Neuron, item.Simulated);
                    patches[3 * w + 2] = MlpPatch.Constant(item.Layer, item.Neuron, item.Mean, seqLen);
                    fanOut[3 * w] = fanOut[3 * w + 1] = fanOut[3 * w + 2] = w;
                }
                var sink = new Divergences(batch.Length, vocab, seqLen);
                device.Run(tokens, batch.Length, seqLen, new ForwardRequest { LogProbs = sink, Patches = patches, FanOut = fanOut });
                for (int w = 0; w < batch.Length; w++) result[batch[w]] = new AblationSums(sink.Simulated[w], sink.MeanAblated[w], seqLen);
                onItems?.Invoke(batch.Length);
            }
        }
        return result;
    }

    /// <summary>Rows arrive in order: each window's real element before its two patched ones; the real rows are kept per position.</summary>
    private sealed class Divergences(int windows, int vocab, int seqLen) : ILogProbSink
    {
        public readonly double[] Simulated = new double[windows], MeanAblated = new double[windows];
        private readonly float[] _real = new float[seqLen * vocab];

        public void OnLogProbs(int firstRow, int rows, int v, ReadOnlySpan<float> logProbs)
        {
            for (int r = 0; r < rows; r++)
            {
                int row = firstRow + r, element = row / seqLen, t = row % seqLen, window = element / 3, kind = element % 3;
                var lp = logProbs.Slice(r * vocab, vocab);
                if (kind == 0) { lp.CopyTo(_real.AsSpan(t * vocab, vocab)); continue; }
                double jsd = Jsd(_real.AsSpan(t * vocab, vocab), lp);
                if (kind == 1) Simulated[window] += jsd; else MeanAblated[window] += jsd;
            }
        }
    }
}
