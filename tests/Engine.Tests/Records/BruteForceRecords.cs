using NeuronEngine.Dump;
using NeuronEngine.Format;
using NeuronEngine.Records;
using NeuronEngine.Numerics;

namespace NeuronEngine.Tests.Records;

/// <summary>
/// The records by definition, from a full `engine dump` of the same corpus: every window's activations in memory,
/// selections by sorting all windows (floats compared as floats, not through the collectors' keys), moments by the
/// textbook two-pass formulas in double. What the collectors must reproduce.
/// </summary>
public sealed class BruteForceRecords
{
    public int Windows { get; }
    public int SeqLen { get; }
    public int Neurons { get; }
    private readonly Dictionary<int, float[]> _acts = []; // layer → [S, T, N]
    private readonly List<int> _tokens = [];              // [S, T]

    public BruteForceRecords(string dumpDir)
    {
        var manifest = DumpManifest.TryLoad(dumpDir) ?? throw new InvalidOperationException("no dump");
        SeqLen = manifest.Settings.SeqLen; Neurons = manifest.Settings.NeuronsPerLayer; Windows = (int)manifest.Settings.TotalWindows;
        foreach (var s in manifest.Shards)
        {
            using var f = SafeTensorsFile.Open(Path.Combine(dumpDir, s.File));
            _tokens.AddRange(f.Span<int>("tokens").ToArray());
        }
        foreach (int layer in manifest.Settings.Layers)
        {
            var all = new List<float>();
            foreach (var s in manifest.Shards)
            {
                using var f = SafeTensorsFile.Open(Path.Combine(dumpDir, s.File));
                all.AddRange(f.ReadAsFloat(f.Get($"mlp.{layer}")));
            }
            _acts[layer] = all.ToArray();
        }
    }

    public float Act(int layer, int window, int t, int neuron) => _acts[layer][((long)window * SeqLen + t) * Neurons + neuron];

    public float[] WindowActivations(int layer, int window, int neuron) => Enumerable.Range(0, SeqLen).Select(t => Act(layer, window, t, neuron)).ToArray();

    public float WindowMax(int layer, int window, int neuron)
    {
        float m = float.NegativeInfinity;
        for (int t = 0; t < SeqLen; t++) m = Math.Max(m, Act(layer, window, t, neuron));
        return m;
    }

    public long[] Top(int layer, int neuron, int k, IEnumerable<int> windows) =>
        windows.OrderByDescending(w => WindowMax(layer, w, neuron)).ThenBy(w => w).Take(k).Select(w => (long)w).ToArray();

    public long[] Random(int layer, int neuron, int k, ulong seed, IEnumerable<int> windows) =>
        windows.OrderBy(w => RecordKeys.Hash(seed, layer, neuron, (uint)w, RecordKeys.RandomSalt)).ThenBy(w => w).Take(k).Select(w => (long)w).ToArray();

    /// <summary>Nearest-rank quantiles of the pilot windows' maxima.</summary>
    public float[] Boundaries(int layer, int neuron, int pilotWindows)
    {
        var pilot = Windows <= pilotWindows ? Enumerable.Range(0, Windows) : Enumerable.Range(0, pilotWindows).Select(j => (int)((long)j * Windows / pilotWindows));
        var sorted = pilot.Select(w => WindowMax(layer, w, neuron)).Order().ToArray();
        return RecordShape.BandQuantiles.Select(p => sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(p * sorted.Length))]).ToArray();
    }

    public long[][] Quantile(int layer, int neuron, int perBand, ulong seed, float[] boundaries, IEnumerable<int> windows) =>
        Enumerable.Range(0, RecordShape.Bands).Select(b => windows
            .Where(w => boundaries.Count(x => x <= WindowMax(layer, w, neuron)) == b)
            .OrderBy(w => RecordKeys.Hash(seed, layer, neuron, (uint)w, RecordKeys.QuantileSalt)).ThenBy(w => w)
            .Take(perBand).Select(w => (long)w).ToArray()).ToArray();

    /// <summary>mean, variance, skewness, excess kurtosis of all the neuron's activations (two passes, population formulas).</summary>
    public (double Mean, double Variance, double Skewness, double Kurtosis) Stats(int layer, int neuron, IEnumerable<int> windows)
    {
        var xs = windows.SelectMany(w => Enumerable.Range(0, SeqLen).Select(t => (double)Act(layer, w, t, neuron))).ToArray();
        double n = xs.Length, mean = xs.Sum() / n;
        double m2 = xs.Sum(x => (x - mean) * (x - mean)), m3 = xs.Sum(x => Math.Pow(x - mean, 3)), m4 = xs.Sum(x => Math.Pow(x - mean, 4));
        return (mean, m2 / n, Math.Sqrt(n) * m3 / Math.Pow(m2, 1.5), n * m4 / (m2 * m2) - 3);
    }

    /// <summary>
    /// The token lookup by definition: per token id of the windows, the mean of the neuron's activations at its positions
    /// (a double sum in corpus order over a count), tokens seen fewer than <paramref name="minCount"/> times left out,
    /// the highest <paramref name="k"/> first, ties → lower id.
    /// </summary>
    public (int[] Tokens, double[] Averages) TokenLookup(int layer, int neuron, int k, int minCount, IEnumerable<int> windows)
    {
        var sums = new SortedDictionary<int, (double Sum, int Count)>();
        foreach (int w in windows)
            for (int t = 0; t < SeqLen; t++)
            {
                int id = _tokens[w * SeqLen + t];
                var (sum, count) = sums.GetValueOrDefault(id);
                sums[id] = (sum + Act(layer, w, t, neuron), count + 1);
            }
        var top = sums.Where(kv => kv.Value.Count >= minCount).Select(kv => (Id: kv.Key, Avg: kv.Value.Sum / kv.Value.Count))
            .OrderByDescending(x => x.Avg).ThenBy(x => x.Id).Take(k).ToArray();
        return (top.Select(x => x.Id).ToArray(), top.Select(x => x.Avg).ToArray());
    }
}
