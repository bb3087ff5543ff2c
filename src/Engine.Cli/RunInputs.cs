using NeuronEngine.Corpus;
using NeuronEngine.Dump;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.Model;
using NeuronEngine.Runtime;

namespace NeuronEngine.Cli;

/// <summary>
/// What a pass over a corpus reads, resolved, opened and checked once: the model (or synthetic preset), the
/// corpus windows, the requested layers, and the fingerprints that a resumed run must match. Shared by
/// the corpus-pass commands (dump, records, precision-effect) through <see cref="Commands.CorpusPassOptions"/>.
/// </summary>
public sealed class RunInputs : IDisposable
{
    public required Gpt2Weights Weights { get; init; }
    public required TokenWindows Windows { get; init; }
    public required int[] Layers { get; init; }
    public required string ModelName { get; init; }
    public required string ModelFingerprint { get; init; }
    public required string Corpus { get; init; }
    public required string CorpusFingerprint { get; init; }
    public Gpt2Config Config => Weights.Config;

    /// <param name="device">the `--device` the pass will run on: checked before synthetic weights are written</param>
    public static RunInputs Open(string? model, string? preset, int modelSeed, string? corpus, string layers, int seqLen, long? maxWindows,
        string device)
    {
        var (modelPath, modelName) = ModelSource.Resolve(model, preset, modelSeed, beforeWriting: shape =>
        {
            LayerSelection.Parse(layers, shape.NLayer);
            DeviceSelection.RequireAvailable(device);
        });
        string corpusPath = ModelSource.ResolveCorpus(corpus);
        var weights = Gpt2Weights.Open(modelPath);
        try
        {
            var c = weights.Config;
            var selected = LayerSelection.Parse(layers, c.NLayer);
            var windows = CorpusReader.Open(corpusPath, seqLen, c.NPositions, c.VocabSize, maxWindows: maxWindows);
            if (windows.InvalidUtf8Bytes > 0)
                Console.Error.WriteLine($"warning: corpus {corpusPath}: {windows.InvalidUtf8Bytes:N0} byte(s) are not valid UTF-8 and were read as U+FFFD");
            return new RunInputs
            {
                Weights = weights, Windows = windows, Layers = selected, ModelName = modelName,
                ModelFingerprint = Fingerprint.OfFile(weights.File.Path),
                Corpus = Path.GetFullPath(corpusPath), CorpusFingerprint = Fingerprint.OfFile(corpusPath),
            };
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>The settings of `engine dump` shards over these inputs (validating the shard options).</summary>
    public DumpSettings DumpSettings(string dtype, string dtypeOption, int windowsPerShard)
    {
        var storage = TensorDTypes.ParseFloat(dtype);
        if (storage is not (TensorDType.F32 or TensorDType.F16)) throw new ArgumentException($"{dtypeOption} must be f32 or f16");
        if (windowsPerShard < 1) throw new ArgumentException("--windows-per-shard must be at least 1");
        return new DumpSettings
        {
            Model = ModelName, ModelFingerprint = ModelFingerprint, Corpus = Corpus, CorpusFingerprint = CorpusFingerprint,
            NLayer = Config.NLayer, NeuronsPerLayer = Config.DMlp, Layers = Layers, SeqLen = Windows.SeqLen,
            DType = storage.ToString(), WindowsPerShard = windowsPerShard, TotalWindows = Windows.Count,
        };
    }

    public void Dispose()
    {
        Windows.Dispose();
        Weights.Dispose();
    }
}
