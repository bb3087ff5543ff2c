using NeuronEngine.Format;
using NeuronEngine.Forward;
using NeuronEngine.Model;

namespace NeuronEngine.Dump;

/// <summary>
/// One activation shard: `tokens` (I32 [S, T]) and `mlp.{L}` ([S, T, 4d], F32 or F16) per captured layer,
/// preallocated and filled in place through a memory map as the forward pass produces each batch, then
/// committed (flushed and renamed) as a whole.
/// </summary>
internal sealed class MlpActivationShardWriter : IMlpActivationSink, IDisposable
{
    private readonly SafeTensorsWriter _writer;
    private readonly long _firstWindow;
    private readonly int _windows, _seqLen, _neurons;

    public MlpActivationShardWriter(string path, DumpSettings settings, string modelName, long firstWindow, int windows)
    {
        _firstWindow = firstWindow; _windows = windows; _seqLen = settings.SeqLen; _neurons = settings.NeuronsPerLayer;
        var dtype = Enum.Parse<TensorDType>(settings.DType);
        var tensors = new List<(string, TensorDType, long[])> { ("tokens", TensorDType.I32, [windows, _seqLen]) };
        tensors.AddRange(settings.Layers.Select(l => (TensorName(l), dtype, new long[] { windows, _seqLen, _neurons })));
        var metadata = new Dictionary<string, string>
        {
            ["model"] = modelName,
            ["layers"] = LayerSelection.Format(settings.Layers),
            ["seq_len"] = _seqLen.ToString(),
            ["first_window"] = firstWindow.ToString(),
            ["windows"] = windows.ToString(),
            ["dtype"] = settings.DType,
        };
        _writer = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout(tensors, metadata));
    }

    public static string TensorName(int layer) => $"mlp.{layer}";

    /// <summary>The size of a shard of <paramref name="windows"/> windows on disk (data plus a generous allowance for the header).</summary>
    public static long FileBytes(DumpSettings settings, int windows)
    {
        long tokens = (long)windows * settings.SeqLen;
        return 1024 + tokens * 4 + settings.Layers.Length * tokens * settings.NeuronsPerLayer * TensorDTypes.SizeOf(Enum.Parse<TensorDType>(settings.DType));
    }

    public void WriteTokens(long firstWindow, ReadOnlySpan<int> tokens) =>
        tokens.CopyTo(_writer.Span<int>("tokens")[(int)((firstWindow - _firstWindow) * _seqLen)..]);

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        long offset = (firstWindow - _firstWindow) * seqLen * (long)_neurons;
        if (firstWindow < _firstWindow || firstWindow + windows > _firstWindow + _windows)
            throw new InvalidOperationException($"windows {firstWindow}..{firstWindow + windows} fall outside shard {_writer.Path}");
        _writer.WriteFloats(TensorName(layer), offset, activations);
    }

    public void Commit() => _writer.Commit();

    public void Dispose() => _writer.Dispose();
}
