using System.Globalization;
using NeuronEngine.Format;
using NeuronEngine.Numerics;

namespace NeuronEngine.Records;

/// <summary>
/// `--format packed` (docs/records.md): one safetensors file per layer, `layer-{L}.safetensors`, holding every
/// neuron's selections sorted best first (N neurons, k top, r random, q per band, 5 bands, T tokens):
/// <code>
/// top.keys U64 [N,k]  top.windows I64 [N,k]  top.max F32 [N,k]  top.activations F32 [N,k,T]
/// random.keys U64 [N,r]  random.windows I64 [N,r]  random.activations F32 [N,r,T]
/// quantile.keys U64 [N,5,q]  quantile.windows I64 [N,5,q]  quantile.activations F32 [N,5,q,T]
/// quantile.boundaries F32 [N,4]  moments F64 [N,5] (count, mean, M2, M3, M4)  stats F64 [N,4] (mean, variance, skewness, kurtosis)
/// </code>
/// Empty slots (fewer windows than asked) have key 2⁶⁴−1, window −1, NaN max and zero activations. The keys are
/// what makes merging exact; Python users need only windows, activations and stats. Read back into the exact
/// <see cref="LayerRecordState"/> by <see cref="Read"/>.
/// </summary>
public static class PackedRecordsFile
{
    public static string FileName(int layer) => $"layer-{layer.ToString(CultureInfo.InvariantCulture)}.safetensors";

    /// <summary>The size of one layer's file (data plus an allowance for the header).</summary>
    public static long FileBytes(RecordShape sh)
    {
        long n = sh.Neurons, t = sh.SeqLen, slots = sh.TopK + sh.RandomCount + (long)RecordShape.Bands * sh.PerBand;
        return 4096 + n * (slots * (8 + 8 + 4 * t) + sh.TopK * 4 + RecordShape.Boundaries * 4 + Moments.Stride * 8 + 4 * 8);
    }

    public static void Write(string path, LayerRecordState s, IReadOnlyDictionary<string, string> metadata)
    {
        var sh = s.Shape;
        long n = sh.Neurons, t = sh.SeqLen, k = sh.TopK, r = sh.RandomCount, q = sh.PerBand, bands = RecordShape.Bands;
        var layout = new List<(string, TensorDType, long[])>
        {
            ("top.keys", TensorDType.U64, [n, k]), ("top.windows", TensorDType.I64, [n, k]), ("top.max", TensorDType.F32, [n, k]),
            ("top.activations", TensorDType.F32, [n, k, t]),
            ("random.keys", TensorDType.U64, [n, r]), ("random.windows", TensorDType.I64, [n, r]), ("random.activations", TensorDType.F32, [n, r, t]),
            ("quantile.keys", TensorDType.U64, [n, bands, q]), ("quantile.windows", TensorDType.I64, [n, bands, q]),
            ("quantile.activations", TensorDType.F32, [n, bands, q, t]), ("quantile.boundaries", TensorDType.F32, [n, RecordShape.Boundaries]),
            ("moments", TensorDType.F64, [n, Moments.Stride]), ("stats", TensorDType.F64, [n, 4]),
        };
        var meta = new Dictionary<string, string>(metadata) { ["layer"] = s.Layer.ToString(CultureInfo.InvariantCulture) };
        using var w = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout(layout, meta));
        WriteReservoir(w, "top", s.Top, topMax: true);
        WriteReservoir(w, "random", s.Random, topMax: false);
        WriteReservoir(w, "quantile", s.Quantile, topMax: false);
        s.Boundaries.CopyTo(w.Span<float>("quantile.boundaries"));
        s.Moments.CopyTo(w.Span<double>("moments"));
        var stats = w.Span<double>("stats");
        for (int i = 0; i < sh.Neurons; i++)
        {
            var (mean, variance, skewness, kurtosis) = Moments.Statistics(s.Moments.AsSpan(i * Moments.Stride, Moments.Stride));
            stats[4 * i] = mean; stats[4 * i + 1] = variance; stats[4 * i + 2] = skewness; stats[4 * i + 3] = kurtosis;
        }
        w.Commit();
    }

    private static void WriteReservoir(SafeTensorsWriter w, string name, Reservoir r, bool topMax)
    {
        var keys = w.Span<ulong>(name + ".keys");
        var windows = w.Span<long>(name + ".windows");
        var acts = w.Span<float>(name + ".activations");
        var max = topMax ? w.Span<float>(name + ".max") : default;
        int c = r.Capacity, t = r.SeqLen;
        for (int g = 0; g < r.Groups; g++)
        {
            var sorted = r.Sorted(g);
            for (int i = 0; i < c; i++)
            {
                int at = g * c + i;
                if (i < sorted.Length)
                {
                    ulong key = r.Keys[g * c + sorted[i]];
                    keys[at] = key;
                    windows[at] = RecordKeys.Window(key);
                    if (topMax) max[at] = RecordKeys.TopMax(key);
                    r.SlotActivations(g, sorted[i]).CopyTo(acts.Slice(at * t, t));
                }
                else
                {
                    keys[at] = RecordKeys.Empty;
                    windows[at] = -1;
                    if (topMax) max[at] = float.NaN;
                    acts.Slice(at * t, t).Clear();
                }
            }
        }
    }

    /// <summary>Reads a layer file back into the collector's state; errors name the file and the problem.</summary>
    public static LayerRecordState Read(string path, RecordShape expected)
    {
        using var f = SafeTensorsFile.Open(path);
        if (!f.Metadata.TryGetValue("layer", out var layerText) || !int.TryParse(layerText, CultureInfo.InvariantCulture, out int layer))
            throw new InvalidDataException($"{path}: no 'layer' in the metadata: not a packed records file");
        var s = new LayerRecordState(layer, expected);
        ReadReservoir(f, "quantile", s.Quantile, [expected.Neurons, RecordShape.Bands, expected.PerBand]);
        ReadReservoir(f, "top", s.Top, [expected.Neurons, expected.TopK]);
        ReadReservoir(f, "random", s.Random, [expected.Neurons, expected.RandomCount]);
        Copy(f, "quantile.boundaries", TensorDType.F32, [expected.Neurons, RecordShape.Boundaries], s.Boundaries.AsSpan());
        Copy(f, "moments", TensorDType.F64, [expected.Neurons, Moments.Stride], s.Moments.AsSpan());
        return s;
    }

    private static void ReadReservoir(SafeTensorsFile f, string name, Reservoir r, long[] shape)
    {
        Copy(f, name + ".keys", TensorDType.U64, shape, r.Keys.AsSpan());
        Copy(f, name + ".activations", TensorDType.F32, [.. shape, r.SeqLen], r.Activations.AsSpan());
    }

    private static void Copy<T>(SafeTensorsFile f, string name, TensorDType dtype, long[] shape, Span<T> destination) where T : unmanaged
    {
        var e = f.Header.Find(name) ?? throw new InvalidDataException($"{f.Path}: tensor '{name}' is missing");
        if (e.DType != dtype || !e.Shape.SequenceEqual(shape))
            throw new InvalidDataException($"{f.Path}: tensor '{name}' is {e.DType} [{string.Join(",", e.Shape)}], expected {dtype} [{string.Join(",", shape)}] (written with other settings?)");
        f.Span<T>(e).CopyTo(destination);
    }
}

/// <summary>
/// `tokens.safetensors`: the token ids of every window any record refers to — `windows` I64 [U] (ascending) and
/// `tokens` I32 [U, T] — so records are readable without the corpus (decode with GPT-2's BPE, e.g. tiktoken "gpt2").
/// </summary>
public static class TokenTableFile
{
    public const string FileName = "tokens.safetensors";

    public static void Write(string path, IReadOnlyDictionary<long, int[]> table, int seqLen)
    {
        var windows = table.Keys.Order().ToArray();
        var layout = new List<(string, TensorDType, long[])> { ("windows", TensorDType.I64, [windows.Length]), ("tokens", TensorDType.I32, [windows.Length, seqLen]) };
        using var w = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout(layout, new Dictionary<string, string> { ["seq_len"] = seqLen.ToString(CultureInfo.InvariantCulture) }));
        windows.CopyTo(w.Span<long>("windows"));
        var tokens = w.Span<int>("tokens");
        for (int i = 0; i < windows.Length; i++) table[windows[i]].CopyTo(tokens.Slice(i * seqLen, seqLen));
        w.Commit();
    }

    public static Dictionary<long, int[]> Read(string path)
    {
        using var f = SafeTensorsFile.Open(path);
        var windows = f.Span<long>("windows");
        var tokensEntry = f.Get("tokens");
        if (tokensEntry.Shape.Length != 2 || tokensEntry.Shape[0] != windows.Length)
            throw new InvalidDataException($"{path}: 'tokens' must be [{windows.Length}, T]");
        int t = (int)tokensEntry.Shape[1];
        var tokens = f.Span<int>(tokensEntry);
        var table = new Dictionary<long, int[]>(windows.Length);
        for (int i = 0; i < windows.Length; i++) table[windows[i]] = tokens.Slice(i * t, t).ToArray();
        return table;
    }
}
