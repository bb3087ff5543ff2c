using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NeuronEngine.Format;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Text;
using NeuronEngine.OpenAi;

namespace NeuronEngine.View;

/// <summary>
/// The neuron records a site is built from: `engine records` output in either layout (docs/design.md §4), or any directory
/// in OpenAI's layout (their published collated-activations included). Neurons are read one at a time, so memory
/// does not grow with the number of neurons.
/// </summary>
public abstract class RecordsSource : IDisposable
{
    /// <summary>Every neuron, sorted by layer then neuron.</summary>
    public abstract IReadOnlyList<(int Layer, int Neuron)> Neurons { get; }

    /// <summary>The records.json beside the records, when there is one.</summary>
    public RecordsManifest? Manifest { get; protected init; }

    /// <summary>One neuron's record (thread-safe).</summary>
    public abstract NeuronRecord Read(int layer, int neuron);

    /// <summary>The records directory.</summary>
    protected string Dir { get; init; } = "";

    private bool? _hasTokenLookup;

    /// <summary>
    /// The neuron's activation-based token list (`engine records --token-lookup`: DIR/token-lookup/{layer}/{neuron}.json,
    /// OpenAI's TokenLookupTableSummaryOfNeuron), or null when the records have none.
    /// </summary>
    public TokenLookupTableSummaryOfNeuron? ReadTokenLookup(int layer, int neuron) =>
        (_hasTokenLookup ??= Directory.Exists(TokenLookupFiles.Folder(Dir))) ? TokenLookupFiles.TryRead(Dir, layer, neuron) : null;

    public virtual void Dispose() { }

    public static RecordsSource Open(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--records {dir}: no such directory");
        var manifest = RecordsManifest.TryLoad(dir);
        if (manifest is { Complete: false })
            throw new InvalidDataException($"{RecordsManifest.PathIn(dir)}: the records run that wrote it did not finish; rerun it first");
        return manifest?.Layout == "packed" ? new PackedRecordsSource(dir, manifest) : new OpenAiRecordsSource(dir, manifest);
    }
}

/// <summary>DIR/{layer}/{neuron}.json, read with <see cref="NeuronRecordFile"/>.</summary>
internal sealed class OpenAiRecordsSource : RecordsSource
{
    private readonly string _dir;
    public override IReadOnlyList<(int Layer, int Neuron)> Neurons { get; }

    public OpenAiRecordsSource(string dir, RecordsManifest? manifest)
    {
        _dir = dir;
        Dir = dir;
        Manifest = manifest;
        Neurons = NeuronRecordFile.Enumerate(dir).Select(l => (l.Layer, l.Neuron)).ToArray();
    }

    public override NeuronRecord Read(int layer, int neuron) => NeuronRecordFile.Read(NeuronRecordFile.PathFor(_dir, layer, neuron));
}

/// <summary>
/// `--format packed` records (docs/records.md): each neuron's slices of layer-{L}.safetensors and its windows' token
/// rows of tokens.safetensors are read with positioned reads (not through the memory map, whose touched pages would
/// count as resident memory growing with the records' size); only the sorted window list of tokens.safetensors is
/// searched through the map (8 bytes per referenced window).
/// </summary>
internal sealed class PackedRecordsSource : RecordsSource
{
    private readonly SafeTensorsFile _tokens;
    private readonly SafeFileHandle _tokensHandle;
    private readonly Dictionary<int, (SafeTensorsFile File, SafeFileHandle Handle)> _layers = [];
    private readonly RecordShape _shape;
    private readonly Gpt2Tokenizer _tokenizer = Gpt2Tokenizer.Load();
    public override IReadOnlyList<(int Layer, int Neuron)> Neurons { get; }

    public PackedRecordsSource(string dir, RecordsManifest manifest)
    {
        Dir = dir;
        Manifest = manifest;
        _shape = manifest.Settings.Shape;
        string tokens = Path.Combine(dir, TokenTableFile.FileName);
        _tokens = SafeTensorsFile.Open(tokens);
        _tokensHandle = File.OpenHandle(tokens, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            foreach (int layer in manifest.Settings.Layers)
            {
                string path = Path.Combine(dir, PackedRecordsFile.FileName(layer));
                var f = SafeTensorsFile.Open(path);
                _layers[layer] = (f, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess));
                var windows = f.Header.Find("top.windows");
                if (windows is null || windows.Shape.Length != 2 || windows.Shape[0] != _shape.Neurons || windows.Shape[1] != _shape.TopK)
                    throw new InvalidDataException($"{f.Path}: 'top.windows' is not [{_shape.Neurons}, {_shape.TopK}] as records.json says");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        // Decode every token once: the tokenizer's display cache is then only read by the parallel readers.
        for (int id = 0; id < Gpt2Tokenizer.VocabSize; id++) _tokenizer.DisplayToken(id);
        Neurons = manifest.Settings.Layers.Order().SelectMany(l => Enumerable.Range(0, _shape.Neurons).Select(n => (l, n))).ToArray();
    }

    /// <summary>Elements [first, first + count) of a tensor, read from the file.</summary>
    private static T[] Read<T>(SafeTensorsFile f, SafeFileHandle handle, string name, long first, int count) where T : unmanaged
    {
        var e = f.Get(name);
        int size = Unsafe.SizeOf<T>();
        if (TensorDTypes.SizeOf(e.DType) != size || first < 0 || first + count > e.ElementCount)
            throw new InvalidDataException($"{f.Path}: tensor '{name}' ({e.DType} {e.ShapeText}) does not hold elements {first}..{first + count}");
        var result = new T[count];
        var bytes = MemoryMarshal.AsBytes(result.AsSpan());
        long offset = f.DataOffset + e.Begin + first * size;
        for (int done = 0; done < bytes.Length;)
        {
            int n = RandomAccess.Read(handle, bytes[done..], offset + done);
            if (n == 0) throw new InvalidDataException($"{f.Path}: ends inside tensor '{name}'");
            done += n;
        }
        return result;
    }

    public override NeuronRecord Read(int layer, int neuron)
    {
        var (f, handle) = _layers[layer];
        int t = _shape.SeqLen, bands = RecordShape.Bands;
        ActivationRecord[] Records(string name, long first, int count)
        {
            var windows = Read<long>(f, handle, name + ".windows", first, count);
            var acts = Read<float>(f, handle, name + ".activations", first * t, count * t);
            var list = new List<ActivationRecord>(count);
            for (int i = 0; i < count; i++)
            {
                if (windows[i] < 0) continue;
                var ids = TokensOf(windows[i]);
                var values = new double[t];
                for (int j = 0; j < t; j++) values[j] = acts[i * t + j];
                list.Add(new ActivationRecord { Tokens = ids.Select(_tokenizer.DisplayToken).ToArray(), Activations = values });
            }
            return [.. list];
        }
        var stats = Read<double>(f, handle, "stats", neuron * 4L, 4);
        var boundaries = Read<float>(f, handle, "quantile.boundaries", (long)neuron * RecordShape.Boundaries, RecordShape.Boundaries);
        return new NeuronRecord
        {
            NeuronId = new NeuronId { LayerIndex = layer, NeuronIndex = neuron },
            MostPositiveActivationRecords = Records("top", (long)neuron * _shape.TopK, _shape.TopK),
            RandomSample = Records("random", (long)neuron * _shape.RandomCount, _shape.RandomCount),
            RandomSampleByQuantile = Enumerable.Range(0, bands)
                .Select(b => Records("quantile", ((long)neuron * bands + b) * _shape.PerBand, _shape.PerBand)).ToArray(),
            QuantileBoundaries = boundaries.Select(v => (double)v).ToArray(),
            Mean = stats[0], Variance = stats[1], Skewness = stats[2], Kurtosis = stats[3],
        };
    }

    private int[] TokensOf(long window)
    {
        var windows = _tokens.Span<long>("windows");
        int row = windows.BinarySearch(window);
        if (row < 0) throw new InvalidDataException($"{_tokens.Path}: window {window} is missing from the token table");
        return Read<int>(_tokens, _tokensHandle, "tokens", (long)row * _shape.SeqLen, _shape.SeqLen);
    }

    public override void Dispose()
    {
        _tokens?.Dispose();
        _tokensHandle?.Dispose();
        foreach (var (f, h) in _layers.Values)
        {
            f.Dispose();
            h.Dispose();
        }
    }
}
