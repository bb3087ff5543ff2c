using NeuronEngine.Connections;
using NeuronEngine.OpenAi;

namespace NeuronEngine.View;

/// <summary>
/// `engine connections` output (either layout; docs/related.md): a neuron's upstream and downstream connections.
/// Packed layers are read whole once (a few MB) and kept while their neurons are written.
/// </summary>
public sealed class ConnectionsSource
{
    private readonly string _dir;
    private readonly ConnectionsManifest _manifest;
    private (int Layer, ConnectionsLayer Lists)? _cached;
    private readonly Lock _lock = new();

    public ConnectionsSettings Settings => _manifest.Settings;

    public ConnectionsSource(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--connections {dir}: no such directory");
        _dir = dir;
        _manifest = ConnectionsManifest.TryLoad(dir) ?? throw new InvalidDataException($"--connections {dir}: no {ConnectionsManifest.FileName}: not an `engine connections` directory");
    }

    /// <summary>The neuron's four lists, or null when the directory has none for it.</summary>
    public WeightBasedConnectionsOfNeuron? Read(int layer, int neuron)
    {
        if (!_manifest.LayersDone.Contains(layer) || neuron >= Settings.NeuronsPerLayer) return null;
        if (!Settings.WritesPacked) return ConnectionsFiles.NeuronJson.TryRead(ConnectionsFiles.JsonPath(_dir, layer, neuron));
        ConnectionsLayer lists;
        lock (_lock)
        {
            if (_cached is not { } c || c.Layer != layer)
                _cached = (layer, ConnectionsFiles.ReadPacked(Path.Combine(_dir, ConnectionsFiles.PackedFileName(layer))));
            lists = _cached.Value.Lists;
        }
        return ConnectionsFiles.ToJson(lists, neuron);
    }
}
