using NeuronEngine.Format;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Text;

namespace NeuronEngine.View;

/// <summary>
/// The neuron records a site is built from: `engine records` output in either layout (DESIGN §4), or any directory
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
        Manifest = manifest;
        Neurons = NeuronRecordFile.Enumerate(dir).Select(l => (l.Layer, l.Neuron)).ToArray();
    }

    public override NeuronRecord Read(int layer, int neuron) => NeuronRecordFile.Read(NeuronRecordFile.PathFor(_dir, layer, neuron));
}

/// <summary>
/// `--format packed` records (docs/records.md), memory-mapped: each neuron's slices of layer-{L}.safetensors and
/// its windows' token ids from tokens.safetensors (binary search over the sorted window list).
/// </summary>
internal sealed class PackedRecordsSource : RecordsSource
{
    private readonly SafeTensorsFile _tokens;
    private readonly Dictionary<int, SafeTensorsFile> _layers = [];
    private readonly RecordShape _shape;
    private readonly Gpt2Tokenizer _tokenizer = Gpt2Tokenizer.Load();
    public override IReadOnlyList<(int Layer, int Neuron)> Neurons { get; }

    public PackedRecordsSource(string dir, RecordsManifest manifest)
    {
        Manifest = manifest;
        _shape = manifest.Settings.Shape;
        _tokens = SafeTensorsFile.Open(Path.Combine(dir, TokenTableFile.FileName));
        try
        {
            foreach (int layer in manifest.Settings.Layers)
            {
                var f = SafeTensorsFile.Open(Path.Combine(dir, PackedRecordsFile.FileName(layer)));
                _layers[layer] = f;
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

    public override NeuronRecord Read(int layer, int neuron)
    {
        var f = _layers[layer];
        int t = _shape.SeqLen, bands = RecordShape.Bands;
        ActivationRecord[] Records(string name, int first, int count)
        {
            var windows = f.Span<long>(name + ".windows").Slice(first, count);
            var acts = f.Span<float>(name + ".activations");
            var list = new List<ActivationRecord>(count);
            for (int i = 0; i < count; i++)
            {
                if (windows[i] < 0) continue;
                var ids = TokensOf(windows[i]);
                var a = acts.Slice((first + i) * t, t);
                var values = new double[t];
                for (int j = 0; j < t; j++) values[j] = a[j];
                list.Add(new ActivationRecord { Tokens = ids.ToArray().Select(_tokenizer.DisplayToken).ToArray(), Activations = values });
            }
            return [.. list];
        }
        var stats = f.Span<double>("stats").Slice(neuron * 4, 4);
        var boundaries = f.Span<float>("quantile.boundaries").Slice(neuron * RecordShape.Boundaries, RecordShape.Boundaries);
        return new NeuronRecord
        {
            NeuronId = new NeuronId { LayerIndex = layer, NeuronIndex = neuron },
            MostPositiveActivationRecords = Records("top", neuron * _shape.TopK, _shape.TopK),
            RandomSample = Records("random", neuron * _shape.RandomCount, _shape.RandomCount),
            RandomSampleByQuantile = Enumerable.Range(0, bands)
                .Select(b => Records("quantile", (neuron * bands + b) * _shape.PerBand, _shape.PerBand)).ToArray(),
            QuantileBoundaries = boundaries.ToArray().Select(v => (double)v).ToArray(),
            Mean = stats[0], Variance = stats[1], Skewness = stats[2], Kurtosis = stats[3],
        };
    }

    private ReadOnlySpan<int> TokensOf(long window)
    {
        var windows = _tokens.Span<long>("windows");
        int row = windows.BinarySearch(window);
        if (row < 0) throw new InvalidDataException($"{_tokens.Path}: window {window} is missing from the token table");
        return _tokens.Span<int>("tokens").Slice(row * _shape.SeqLen, _shape.SeqLen);
    }

    public override void Dispose()
    {
        _tokens?.Dispose();
        foreach (var f in _layers.Values) f.Dispose();
    }
}
