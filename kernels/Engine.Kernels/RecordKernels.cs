using System.Runtime.CompilerServices;
using ILGPU;
using NeuronEngine.Numerics;

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
/// Device half of the record collector (docs/design.md §4); CPU reference: CpuRecordCollector (Engine.Core). The same state,
/// the same keys (<see cref="RecordKeys"/>) and the same moment arithmetic (<see cref="MomentSums"/>), one source in
/// Shared/, so selections agree exactly and moments to double rounding (summed per window, then merged). One thread per neuron (per
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
    /// neuron n, one Welford/Pébay update per value (<see cref="MomentSums.Add"/>: n' = k+1, δ = x − mean, δn = δ/n',
    /// term = δ·δn·k; mean += δn; M4 += term·δn²·(n'² − 3n' + 3) + 6δn²·M2 − 4δn·M3; M3 += term·δn·(n' − 2) − 3δn·M2;
    /// M2 += term), written to partial[i·5 ..] as [count, mean, M2, M3, M4].
    /// CPU reference: CpuRecordCollector (value by value over the whole corpus; equal up to double rounding).
    /// </summary>
    public static void WindowMoments(Index1D i, ArrayView<float> acts, ArrayView<double> partial, int seqLen, int neurons)
    {
        int w = i / neurons, n = i - w * neurons;
        long at = (long)w * seqLen * neurons + n;
        var s = default(MomentSums);
        for (int t = 0; t < seqLen; t++) s = MomentSums.Add(s, acts[at + (long)t * neurons]);
        long o = (long)(int)i * 5;
        partial[o] = s.Count; partial[o + 1] = s.Mean; partial[o + 2] = s.M2; partial[o + 3] = s.M3; partial[o + 4] = s.M4;
    }

    /// <summary>
    /// Moments, step 2 of 2 — thread n merges the batch's per-window moments into neuron n's running moments, in
    /// window order (<see cref="MomentSums.Merge"/>, Chan et al. / Pébay 2008: with δ = mean_b − mean_a, n = n_a + n_b,
    /// mean = mean_a + δ·n_b/n, M2 = M2a + M2b + δ²·n_a·n_b/n, …). The same merge as `engine merge` (Moments.Merge).
    /// </summary>
    public static void MergeMoments(Index1D n, ArrayView<double> partial, ArrayView<double> moments, int windows, int neurons)
    {
        int at = n * 5;
        var a = new MomentSums { Count = moments[at], Mean = moments[at + 1], M2 = moments[at + 2], M3 = moments[at + 3], M4 = moments[at + 4] };
        for (int w = 0; w < windows; w++)
        {
            long o = ((long)w * neurons + n) * 5;
            a = MomentSums.Merge(a, new MomentSums { Count = partial[o], Mean = partial[o + 1], M2 = partial[o + 2], M3 = partial[o + 3], M4 = partial[o + 4] });
        }
        moments[at] = a.Count; moments[at + 1] = a.Mean; moments[at + 2] = a.M2; moments[at + 3] = a.M3; moments[at + 4] = a.M4;
    }

    /// <summary>Top-k by window maximum: key = TopKey(max, window); group = neuron.</summary>
    public static void SelectTop(Index1D n, ArrayView<float> acts, ArrayView<float> maxes, ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b)
    {
        int worst = WorstSlot(keys, n * b.Capacity, b.Capacity);
        for (int w = 0; w < b.Windows; w++)
        {
            uint window = (uint)(b.FirstWindow + w);
            worst = Offer(acts, keys, slotActs, b, n, n, w, worst, RecordKeys.TopKey(maxes[w * b.Neurons + n], window));
        }
    }

    /// <summary>Uniform sample: key = (hash(seed, layer, n, window, RandomSalt) &lt;&lt; 32) | window; group = neuron.</summary>
    public static void SelectRandom(Index1D n, ArrayView<float> acts, ArrayView<ulong> keys, ArrayView<float> slotActs, RecordBatch b)
    {
        int worst = WorstSlot(keys, n * b.Capacity, b.Capacity);
        for (int w = 0; w < b.Windows; w++)
        {
            uint window = (uint)(b.FirstWindow + w);
            ulong key = RecordKeys.SampleKey(RecordKeys.Hash(b.Seed, b.Layer, n, window, RecordKeys.RandomSalt), window);
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
            ulong key = RecordKeys.SampleKey(RecordKeys.Hash(b.Seed, b.Layer, n, window, RecordKeys.QuantileSalt), window);
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

    /// <summary>
    /// Index (within the group at <paramref name="start"/>) of the largest key; the first such slot, as the CPU's scan
    /// finds it. Also the related-token kernel's (RelatedKernels.SelectTokens): the same keyed reservoir.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int WorstSlot(ArrayView<ulong> keys, long start, int capacity)
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
