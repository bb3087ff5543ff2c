using System.Runtime.CompilerServices;
using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>Sizes of one batch handed to the record kernels.</summary>
/// <param name="Windows">windows in the batch (W)</param>
/// <param name="SeqLen">tokens per window (T)</param>
/// <param name="Neurons">neurons of the layer (N); activations are [W, T, N]</param>
/// <param name="FirstWindow">corpus index of the batch's first window (the keys carry it)</param>
/// <param name="Layer">layer index (hashed into the sample keys)</param>
/// <param name="Seed">sampling seed</param>
/// <param name="Capacity">slots per group of the reservoir being updated</param>
public readonly record struct RecordBatch(int Windows, int SeqLen, int Neurons, long FirstWindow, int Layer, ulong Seed, int Capacity);

/// <summary>
/// Device half of the record collector (DESIGN §4): the same state and the same steps as the managed
/// CpuRecordCollector, so selections agree exactly and moments to double rounding. One thread per neuron (per
/// neuron·band for the quantile samples) walks the batch's windows in corpus order; lanes are adjacent neurons, so
/// every read of the [W, T, N] activations is coalesced. A reservoir group keeps its c smallest keys in unordered
/// slots, keys[g·c + s], with the window's T activations at slotActs[(g·c + s)·T + t]; a thread caches the index of
/// its worst (largest-key) slot and only rescans after replacing it.
/// </summary>
public static class RecordKernels
{
    /// <summary>maxes[w·N + n] = max_t acts[w, t, n] (first value, then "a &gt; m" — the CPU's comparison order).</summary>
    public static void WindowMax(Index1D i, ArrayView<float> acts, ArrayView<float> maxes, int seqLen, int neurons)
    {
        int w = i / neurons, n = i - w * neurons;
        long at = (long)w * seqLen * neurons + n;
        float m = acts[at];
        for (int t = 1; t < seqLen; t++)
        {
            float a = acts[at + (long)t * neurons];
            if (a > m) m = a;
        }
        maxes[i] = m;
    }

    /// <summary>
    /// Moments, step 1 of 2 — thread i = w·N + n (adjacent threads read adjacent neurons: coalesced, and W·N threads
    /// fill the GPU where one thread per neuron would leave it idle): the moments of window w's T activations of
    /// neuron n, by Welford/Pébay one value at a time — n' = k+1, δ = x − mean, δn = δ/n', term = δ·δn·k;
    /// mean += δn; M4 += term·δn²·(n'² − 3n' + 3) + 6δn²·M2 − 4δn·M3; M3 += term·δn·(n' − 2) − 3δn·M2; M2 += term —
    /// written to partial[i·5 ..] as [count, mean, M2, M3, M4].
    /// </summary>
    public static void WindowMoments(Index1D i, ArrayView<float> acts, ArrayView<double> partial, int seqLen, int neurons)
    {
        int w = i / neurons, n = i - w * neurons;
        long at = (long)w * seqLen * neurons + n;
        double count = 0, mean = 0, m2 = 0, m3 = 0, m4 = 0;
        for (int t = 0; t < seqLen; t++)
        {
            double x = acts[at + (long)t * neurons];
            double n1 = count, nn = n1 + 1;
            double delta = x - mean, dn = delta / nn, dn2 = dn * dn, term1 = delta * dn * n1;
            mean += dn;
            m4 += term1 * dn2 * (nn * nn - 3 * nn + 3) + 6 * dn2 * m2 - 4 * dn * m3;
            m3 += term1 * dn * (nn - 2) - 3 * dn * m2;
            m2 += term1;
            count = nn;
        }
        long o = (long)(int)i * 5;
        partial[o] = count; partial[o + 1] = mean; partial[o + 2] = m2; partial[o + 3] = m3; partial[o + 4] = m4;
    }

    /// <summary>
    /// Moments, step 2 of 2 — thread n merges the batch's per-window moments into neuron n's running moments, in
    /// window order (Chan et al. / Pébay 2008: with δ = mean_b − mean_a, n = n_a + n_b,
    /// mean = mean_a + δ·n_b/n, M2 = M2a + M2b + δ²·n_a·n_b/n,
    /// M3 = M3a + M3b + δ³·n_a·n_b·(n_a − n_b)/n² + 3δ·(n_a·M2b − n_b·M2a)/n,
    /// M4 = M4a + M4b + δ⁴·n_a·n_b·(n_a² − n_a·n_b + n_b²)/n³ + 6δ²·(n_a²·M2b + n_b²·M2a)/n² + 4δ·(n_a·M3b − n_b·M3a)/n).
    /// The same formulas as NeuronEngine.Records.Moments.Merge; differs from the CPU's value-by-value sum by rounding only.
    /// </summary>
    public static void MergeMoments(Index1D n, ArrayView<double> partial, ArrayView<double> moments, int windows, int neurons)
    {
        int at = n * 5;
        double na = moments[at], ma = moments[at + 1], m2a = moments[at + 2], m3a = moments[at + 3], m4a = moments[at + 4];
        for (int w = 0; w < windows; w++)
        {
            long o = ((long)w * neurons + n) * 5;
            double nb = partial[o], mb = partial[o + 1], m2b = partial[o + 2], m3b = partial[o + 3], m4b = partial[o + 4];
            if (nb == 0) continue;
            if (na == 0) { na = nb; ma = mb; m2a = m2b; m3a = m3b; m4a = m4b; continue; }
            double nn = na + nb, delta = mb - ma, d2 = delta * delta;
            m4a = m4a + m4b + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (nn * nn * nn)
                + 6 * d2 * (na * na * m2b + nb * nb * m2a) / (nn * nn) + 4 * delta * (na * m3b - nb * m3a) / nn;
            m3a = m3a + m3b + d2 * delta * na * nb * (na - nb) / (nn * nn) + 3 * delta * (na * m2b - nb * m2a) / nn;
            m2a = m2a + m2b + d2 * na * nb / nn;
            ma += delta * nb / nn;
            na = nn;
        }
        moments[at] = na; moments[at + 1] = ma; moments[at + 2] = m2a; moments[at + 3] = m3a; moments[at + 4] = m4a;
    }

    /// <summary>Top-k by window maximum: key = TopKey(max, window); group = neuron.</summary>
    public static void SelectTop(Index1D n, ArrayView<float> acts, ArrayView<float> maxes, ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b)
    {
        int worst = WorstSlot(keys, n * b.Capacity, b.Capacity);
        for (int w = 0; w < b.Windows; w++)
        {
            uint window = (uint)(b.FirstWindow + w);
            worst = Offer(acts, keys, slotActs, b, n, n, w, worst, RecordKeyMath.TopKey(maxes[w * b.Neurons + n], window));
        }
    }

    /// <summary>Uniform sample: key = (hash(seed, layer, n, window, RandomSalt) &lt;&lt; 32) | window; group = neuron.</summary>
    public static void SelectRandom(Index1D n, ArrayView<float> acts, ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b)
    {
        int worst = WorstSlot(keys, n * b.Capacity, b.Capacity);
        for (int w = 0; w < b.Windows; w++)
        {
            uint window = (uint)(b.FirstWindow + w);
            ulong key = RecordKeyMath.SampleKey(RecordKeyMath.Hash(b.Seed, b.Layer, n, window, RecordKeyMath.RandomSalt), window);
            worst = Offer(acts, keys, slotActs, b, n, n, w, worst, key);
        }
    }

    /// <summary>
    /// Quantile-band samples: thread g = n·5 + band takes the windows whose maximum m falls in its band
    /// (band = #{i &lt; 4 : boundaries[n·4 + i] ≤ m}) with key = (hash(…, QuantileSalt) &lt;&lt; 32) | window.
    /// </summary>
    public static void SelectQuantile(Index1D g, ArrayView<float> acts, ArrayView<float> maxes, ArrayView<float> boundaries,
        ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b)
    {
        int n = g / 5, band = g - n * 5;
        float b0 = boundaries[n * 4], b1 = boundaries[n * 4 + 1], b2 = boundaries[n * 4 + 2], b3 = boundaries[n * 4 + 3];
        int worst = WorstSlot(keys, g * b.Capacity, b.Capacity);
        for (int w = 0; w < b.Windows; w++)
        {
            float m = maxes[w * b.Neurons + n];
            int windowBand = (b0 <= m ? 1 : 0) + (b1 <= m ? 1 : 0) + (b2 <= m ? 1 : 0) + (b3 <= m ? 1 : 0);
            if (windowBand != band) continue;
            uint window = (uint)(b.FirstWindow + w);
            ulong key = RecordKeyMath.SampleKey(RecordKeyMath.Hash(b.Seed, b.Layer, n, window, RecordKeyMath.QuantileSalt), window);
            worst = Offer(acts, keys, slotActs, b, g, n, w, worst, key);
        }
    }

    /// <summary>If key beats the group's worst slot, the window takes that slot (key and T activations); returns the new worst slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Offer(ArrayView<float> acts, ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b,
        int group, int n, int w, int worst, ulong key)
    {
        int start = group * b.Capacity;
        if (key >= keys[start + worst]) return worst;
        keys[start + worst] = key;
        long dst = (long)(start + worst) * b.SeqLen, src = (long)w * b.SeqLen * b.Neurons + n;
        for (int t = 0; t < b.SeqLen; t++) slotActs[dst + t] = acts[src + (long)t * b.Neurons];
        return WorstSlot(keys, start, b.Capacity);
    }

    /// <summary>Index (within the group) of the largest key; the first such slot, as the CPU's scan finds it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int WorstSlot(ArrayView<ulong> keys, int start, int capacity)
    {
        int worst = 0;
        ulong worstKey = keys[start];
        for (int s = 1; s < capacity; s++)
        {
            ulong k = keys[start + s];
            if (k > worstKey) { worst = s; worstKey = k; }
        }
        return worst;
    }
}
