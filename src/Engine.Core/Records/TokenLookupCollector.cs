using System.Globalization;
using NeuronEngine.Format;
using NeuronEngine.Forward;

namespace NeuronEngine.Records;

/// <summary>
/// The state behind `engine records --token-lookup` (OpenAI's TokenLookupTableSummaryOfNeuron, docs/records.md): per
/// requested layer, per (neuron, token id) the sum in double of the neuron's activation over every corpus position
/// holding that token, and per token the number of such positions (the same for every neuron and layer). A host sink of
/// the corpus pass: the batch's tokens arrive through <see cref="BeginBatch"/>, each layer's activations
/// ([windows, seqLen, N]) through <see cref="OnMlpActivations"/>. Sums are added value by value in corpus order
/// (neurons in parallel, each neuron's sums by one thread), so the result does not depend on batch or thread count and a
/// run resumed from <see cref="Save"/>d state is bit-identical to an uninterrupted one.
/// Memory: sums only for tokens seen (slots in order of first appearance, <see cref="ChunkTokens"/> tokens per
/// allocation, so nothing is copied as the table grows): at most layers × N × min(V, positions) × 8 bytes
/// (<see cref="RequiredBytes"/>).
/// </summary>
public sealed class TokenLookupCollector : IMlpActivationSink
{
    /// <summary>Tokens per allocated block of sums (a block is ChunkTokens × N doubles per layer).</summary>
    public const int ChunkTokens = 256;

    private readonly int _neurons, _vocab;
    private readonly int[] _slotOf;                     // token id → slot, −1 when not seen yet
    private readonly List<int> _tokenOfSlot = [];
    private readonly List<long> _counts = [];
    private readonly Dictionary<int, List<double[]>> _sums; // layer → blocks of [ChunkTokens, N]
    private int[] _batchSlots = [];
    private long _batchFirst = -1;
    private int _batchWindows;

    public TokenLookupCollector(IReadOnlyCollection<int> layers, int neurons, int vocab)
    {
        if (neurons < 1 || vocab < 1) throw new ArgumentException("token lookup: neurons and vocabulary must be at least 1");
        _neurons = neurons; _vocab = vocab;
        _slotOf = new int[vocab];
        Array.Fill(_slotOf, -1);
        _sums = layers.ToDictionary(l => l, _ => new List<double[]>());
    }

    public IReadOnlyCollection<int> Layers => _sums.Keys;
    public int Neurons => _neurons;

    /// <summary>Distinct tokens seen so far.</summary>
    public int TokensSeen => _tokenOfSlot.Count;

    /// <summary>Positions seen holding <paramref name="token"/> (0 when none).</summary>
    public long Count(int token) => _slotOf[token] is var s and >= 0 ? _counts[s] : 0;

    /// <summary>The sum of the neuron's activations over the positions holding <paramref name="token"/>.</summary>
    public double Sum(int layer, int neuron, int token) => _slotOf[token] is var s and >= 0 ? Block(layer, s)[(s % ChunkTokens) * _neurons + neuron] : 0;

    /// <summary>
    /// Upper bound of the sums' memory: layers × N × min(V, positions) × 8 bytes (a token needs a row only once seen, and
    /// the corpus part cannot hold more distinct tokens than positions), plus the index and counts.
    /// </summary>
    public static long RequiredBytes(int layers, int neurons, int vocab, long positions)
    {
        long tokens = Math.Min(vocab, positions);
        return (long)layers * neurons * tokens * sizeof(double) + tokens * (sizeof(long) + sizeof(int)) + (long)vocab * sizeof(int);
    }

    /// <summary>Refuses, in one line, a token lookup whose sums may not fit <paramref name="availableBytes"/>.</summary>
    public static void RequireMemory(int layers, int neurons, int vocab, long positions, long availableBytes)
    {
        long need = RequiredBytes(layers, neurons, vocab, positions);
        if (need > availableBytes)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--token-lookup: the sums of {layers} layer(s) × {neurons} neurons × up to {Math.Min(vocab, positions)} tokens need {need / 1e9:F1} GB but only {availableBytes / 1e9:F1} GB of memory is available; collect fewer --layers per run (several runs into separate --out directories)"));
    }

    /// <summary>The batch of windows [first, first + count) is about to be delivered: its tokens, [count, seqLen].</summary>
    public void BeginBatch(long firstWindow, int count, ReadOnlySpan<int> tokens)
    {
        if (_batchSlots.Length < tokens.Length) _batchSlots = new int[tokens.Length];
        for (int p = 0; p < tokens.Length; p++)
        {
            int id = tokens[p];
            if ((uint)id >= (uint)_vocab) throw new InvalidDataException($"token id {id} of window {firstWindow + p / Math.Max(1, tokens.Length / count)} is outside the vocabulary of {_vocab}");
            int slot = _slotOf[id];
            if (slot < 0) slot = AddToken(id);
            _counts[slot]++;
            _batchSlots[p] = slot;
        }
        _batchFirst = firstWindow;
        _batchWindows = count;
    }

    private int AddToken(int id)
    {
        int slot = _tokenOfSlot.Count;
        if (slot % ChunkTokens == 0)
            foreach (var blocks in _sums.Values) blocks.Add(new double[ChunkTokens * _neurons]);
        _tokenOfSlot.Add(id);
        _counts.Add(0);
        _slotOf[id] = slot;
        return slot;
    }

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        if (!_sums.TryGetValue(layer, out var blocks)) return;
        int positions = windows * seqLen, neurons = _neurons;
        if (firstWindow != _batchFirst || windows != _batchWindows)
            throw new InvalidOperationException($"token lookup: layer {layer}'s windows {firstWindow}+{windows} are not the batch begun ({_batchFirst}+{_batchWindows})");
        if (activations.Length != (long)positions * neurons)
            throw new ArgumentException($"layer {layer}: expected [{windows}, {seqLen}, {neurons}] activations, got {activations.Length} values");
        var slots = _batchSlots;
        unsafe
        {
            fixed (float* pActs = activations)
            {
                var acts = (IntPtr)pActs;
                const int chunk = 64;
                Parallel.For(0, (neurons + chunk - 1) / chunk, c =>
                {
                    var all = new ReadOnlySpan<float>((float*)acts, positions * neurons);
                    int from = c * chunk, width = Math.Min(neurons, from + chunk) - from;
                    for (int p = 0; p < positions; p++)
                    {
                        int slot = slots[p];
                        var sums = blocks[slot / ChunkTokens].AsSpan((slot % ChunkTokens) * neurons + from, width);
                        var values = all.Slice(p * neurons + from, width);
                        for (int j = 0; j < width; j++) sums[j] += values[j];
                    }
                });
            }
        }
    }

    private double[] Block(int layer, int slot) =>
        (_sums.TryGetValue(layer, out var blocks) ? blocks : throw new ArgumentException($"token lookup: layer {layer} was not collected"))[slot / ChunkTokens];

    /// <summary>
    /// The neuron's <paramref name="k"/> tokens with the highest average activation (sum / count) among tokens seen at
    /// least <paramref name="minCount"/> times, highest first, ties → lower token id; NaN averages are never listed.
    /// </summary>
    public (int[] Tokens, double[] Averages) Top(int layer, int neuron, int k, long minCount)
    {
        var ids = new int[k];
        var avgs = new double[k];
        int kept = 0;
        for (int slot = 0; slot < _tokenOfSlot.Count; slot++)
        {
            long count = _counts[slot];
            if (count < minCount || count == 0) continue;
            double avg = Block(layer, slot)[(slot % ChunkTokens) * _neurons + neuron] / count;
            int id = _tokenOfSlot[slot];
            if (double.IsNaN(avg) || (kept == k && !Better(avg, id, avgs[k - 1], ids[k - 1]))) continue;
            int at = Math.Min(kept, k - 1);
            while (at > 0 && Better(avg, id, avgs[at - 1], ids[at - 1]))
            {
                avgs[at] = avgs[at - 1]; ids[at] = ids[at - 1];
                at--;
            }
            avgs[at] = avg; ids[at] = id;
            if (kept < k) kept++;
        }
        return (ids[..kept], avgs[..kept]);
    }

    private static bool Better(double avg, int id, double otherAvg, int otherId) => avg > otherAvg || (avg == otherAvg && id < otherId);

    /// <summary>Every token id seen, in slot order.</summary>
    public IReadOnlyList<int> SeenTokens => _tokenOfSlot;

    /// <summary>
    /// Writes the whole state (token ids in slot order, counts, each layer's sums [U, N]) to one safetensors file
    /// (a checkpoint's; atomic: temp file, flush, rename).
    /// </summary>
    public void Save(string path)
    {
        long u = _tokenOfSlot.Count, n = _neurons;
        var tensors = new List<(string, TensorDType, long[])> { ("token_ids", TensorDType.I32, [u]), ("counts", TensorDType.I64, [u]) };
        tensors.AddRange(_sums.Keys.Order().Select(l => (SumsName(l), TensorDType.F64, new[] { u, n })));
        using var w = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout(tensors, new Dictionary<string, string> { ["neurons"] = $"{n}", ["vocab"] = $"{_vocab}" }));
        _tokenOfSlot.ToArray().CopyTo(w.Span<int>("token_ids"));
        _counts.ToArray().CopyTo(w.Span<long>("counts"));
        foreach (var (layer, blocks) in _sums)
        {
            var dest = w.Span<double>(SumsName(layer));
            for (int b = 0; b < blocks.Count; b++)
            {
                int rows = (int)Math.Min(ChunkTokens, u - (long)b * ChunkTokens);
                blocks[b].AsSpan(0, rows * _neurons).CopyTo(dest.Slice(b * ChunkTokens * _neurons));
            }
        }
        w.Commit();
    }

    /// <summary>Replaces an empty collector's state with a <see cref="Save"/>d one (same layers, neurons and vocabulary).</summary>
    public void Restore(string path)
    {
        if (_tokenOfSlot.Count != 0) throw new InvalidOperationException("token lookup: restore into a collector that has already collected");
        using var f = SafeTensorsFile.Open(path);
        if (f.Metadata.GetValueOrDefault("neurons") != $"{_neurons}" || f.Metadata.GetValueOrDefault("vocab") != $"{_vocab}")
            throw new InvalidDataException($"{path}: token-lookup state of another model shape");
        var ids = f.Span<int>("token_ids");
        var counts = f.Span<long>("counts");
        for (int s = 0; s < ids.Length; s++)
        {
            if ((uint)ids[s] >= (uint)_vocab || _slotOf[ids[s]] >= 0) throw new InvalidDataException($"{path}: token id {ids[s]} is out of range or repeated");
            AddToken(ids[s]);
            _counts[s] = counts[s];
        }
        foreach (var (layer, blocks) in _sums)
        {
            var e = f.Header.Find(SumsName(layer)) ?? throw new InvalidDataException($"{path}: tensor '{SumsName(layer)}' is missing");
            if (e.DType != TensorDType.F64 || !e.Shape.SequenceEqual([(long)ids.Length, _neurons]))
                throw new InvalidDataException($"{path}: tensor '{e.Name}' is not F64 [{ids.Length}, {_neurons}]");
            var src = f.Span<double>(e);
            for (int b = 0; b < blocks.Count; b++)
            {
                int rows = Math.Min(ChunkTokens, ids.Length - b * ChunkTokens);
                src.Slice(b * ChunkTokens * _neurons, rows * _neurons).CopyTo(blocks[b]);
            }
        }
    }

    private static string SumsName(int layer) => $"sums.{layer.ToString(CultureInfo.InvariantCulture)}";
}
