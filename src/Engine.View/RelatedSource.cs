using NeuronEngine.Related;
using NeuronEngine.Text;
using NeuronEngine.OpenAi;

namespace NeuronEngine.View;

/// <summary>
/// `engine related` output (either layout; docs/related.md) or OpenAI's published related-tokens/weight-based
/// {layer}/{neuron}.json. Packed layers are read whole once (a few MB) and kept while their neurons are written.
/// </summary>
public sealed class RelatedSource
{
    private readonly string _dir;
    private readonly RelatedManifest? _manifest;
    private readonly Gpt2Tokenizer _tokenizer = Gpt2Tokenizer.Load();
    private (int Layer, RelatedLayer Lists)? _cached;
    private readonly Lock _lock = new();

    public RelatedSettings? Settings => _manifest?.Settings;

    public RelatedSource(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--related {dir}: no such directory");
        _dir = dir;
        _manifest = RelatedManifest.TryLoad(dir);
        if (_manifest?.Settings.WritesPacked == true)
            for (int id = 0; id < Gpt2Tokenizer.VocabSize; id++) _tokenizer.DisplayToken(id);
    }

    /// <summary>The neuron's four lists, or null when the directory has none for it.</summary>
    public WeightBasedSummaryOfNeuron? Read(int layer, int neuron)
    {
        if (_manifest?.Settings.WritesPacked == true)
        {
            if (!_manifest.LayersDone.Contains(layer)) return null;
            RelatedLayer lists;
            lock (_lock)
            {
                if (_cached is not { } c || c.Layer != layer)
                    _cached = (layer, RelatedFiles.ReadPacked(Path.Combine(_dir, RelatedFiles.PackedFileName(layer))));
                lists = _cached.Value.Lists;
            }
            return neuron < lists.Neurons ? RelatedFiles.ToSummary(lists, neuron, _tokenizer) : null;
        }
        string path = RelatedFiles.OpenAiPath(_dir, layer, neuron);
        return File.Exists(path) ? RelatedFiles.ReadOpenAi(path) : null;
    }
}
