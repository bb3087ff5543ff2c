using NeuronEngine.Forward;

namespace NeuronEngine.Records;

/// <summary>
/// The quantile boundaries that split each neuron's window-max distribution into OpenAI's five bands, computed
/// BEFORE the main pass from a pilot sample of windows (the choice documented in docs/records.md): the pilot is
/// P windows evenly spaced over the whole corpus (window ⌊j·S/P⌋ for j &lt; P; all S when S ≤ P), the same for every
/// shard, so every shard bands windows identically and shards merge exactly. Boundary i is the nearest-rank
/// quantile of the pilot's window maxima: sorted ascending v, boundary(p) = v[min(P−1, ⌊p·P⌋)]. With S ≤ P the
/// boundaries are exact; otherwise their rank error is that of a P-sample quantile, ≈ √(p(1−p)/P).
/// </summary>
public static class QuantileBoundaries
{
    public const int DefaultPilotWindows = 2048;

    public static long[] PilotWindows(long totalWindows, int pilotWindows)
    {
        if (totalWindows <= pilotWindows) return Enumerable.Range(0, (int)totalWindows).Select(i => (long)i).ToArray();
        return Enumerable.Range(0, pilotWindows).Select(j => (long)((Int128)j * totalWindows / pilotWindows)).ToArray();
    }

    /// <summary>Boundaries [neuron, RecordShape.Boundaries] from window maxima [P, neurons].</summary>
    public static float[] FromWindowMaxima(float[] maxes, int windows, int neurons)
    {
        var result = new float[neurons * RecordShape.Boundaries];
        if (windows == 0) return result;
        var column = new float[windows];
        for (int n = 0; n < neurons; n++)
        {
            for (int w = 0; w < windows; w++) column[w] = maxes[w * neurons + n];
            Array.Sort(column);
            for (int i = 0; i < RecordShape.Boundaries; i++)
                result[n * RecordShape.Boundaries + i] = column[Math.Min(windows - 1, (int)Math.Floor(RecordShape.BandQuantiles[i] * windows))];
        }
        return result;
    }

    /// <summary>
    /// Collects the window maxima [windows, neurons] of each layer for the pilot windows, in the order they arrive.
    /// Device sinks derive from it and compute the maxima where the activations are (only the maxima cross to the host).
    /// </summary>
    public class PilotSink(int neurons) : IMlpActivationSink
    {
        private readonly Dictionary<int, List<float>> _maxes = [];

        public int Neurons => neurons;

        public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations) =>
            AddMaxima(layer, CpuRecordCollector.WindowMaxima(activations, windows, seqLen, neurons));

        protected void AddMaxima(int layer, float[] maxima)
        {
            if (!_maxes.TryGetValue(layer, out var list)) _maxes[layer] = list = [];
            list.AddRange(maxima);
        }

        public float[] Boundaries(int layer)
        {
            var list = _maxes.GetValueOrDefault(layer) ?? [];
            return FromWindowMaxima(list.ToArray(), list.Count / neurons, neurons);
        }
    }
}
