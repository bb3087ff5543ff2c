using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using NeuronEngine.Connections;
using NeuronEngine.OpenAi;

namespace NeuronEngine.View;

/// <summary>
/// The connected neurons of each neuron page (`engine view --connections`, docs/viewer.md):
/// data/{layer}/{neuron}.connections.js = <c>NV.connections({...});</c>, the four lists of `engine connections` with, for
/// each connected neuron, its explanation and score when the site has them. Written after every neuron's page, since a
/// neuron's connections reach layers written later; the page loads the file when it shows the section (connections.js).
/// </summary>
public static class ConnectionsPages
{
    public const string Extension = ".connections.js";
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string PathFor(string site, int layer, int neuron) =>
        NeuronFileLayout.PathFor(Path.Combine(site, SiteBuilder.DataFolder), layer, neuron, Extension);

    /// <summary>Writes the file of every neuron that has connections; returns how many and the bytes written.</summary>
    /// <param name="explained">(layer, neuron) → the first explanation and its score, for the site's neurons that have one</param>
    public static (int Neurons, long Bytes) Write(string site, ConnectionsSource source, IReadOnlyList<(int Layer, int Neuron)> neurons,
        IReadOnlyDictionary<(int Layer, int Neuron), (string Explanation, double? Score)> explained)
    {
        int written = 0;
        long bytes = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) };
        foreach (var layer in neurons.GroupBy(x => x.Layer))
            Parallel.ForEach(layer, parallel, x =>
            {
                if (source.Read(x.Layer, x.Neuron) is not { } lists) return;
                var buffer = new ArrayBufferWriter<byte>(8 * 1024);
                buffer.Write("NV.connections("u8);
                using (var w = new Utf8JsonWriter(buffer, Options)) WriteNeuron(w, x.Layer, x.Neuron, lists, explained);
                buffer.Write(");\n"u8);
                string path = PathFor(site, x.Layer, x.Neuron);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllBytes(path, buffer.WrittenSpan.ToArray());
                Interlocked.Increment(ref written);
                Interlocked.Add(ref bytes, buffer.WrittenCount);
            });
        return (written, bytes);
    }

    private static void WriteNeuron(Utf8JsonWriter w, int layer, int neuron, WeightBasedConnectionsOfNeuron lists,
        IReadOnlyDictionary<(int Layer, int Neuron), (string Explanation, double? Score)> explained)
    {
        w.WriteStartObject();
        w.WriteNumber("layer", layer);
        w.WriteNumber("neuron", neuron);
        foreach (var list in Enum.GetValues<ConnectionList>())
        {
            // Each connected neuron: l(ayer), n(euron), w(eight), e(xplanation) and s(core) when the site has one.
            w.WriteStartArray(ConnectionsLayer.ListNames[(int)list]);
            foreach (var c in lists.List(list))
            {
                w.WriteStartObject();
                w.WriteNumber("l", c.Layer);
                w.WriteNumber("n", c.Neuron);
                w.WritePropertyName("w");
                NeuronDataWriter.Number(w, c.Weight, "G4");
                if (explained.TryGetValue((c.Layer, c.Neuron), out var e))
                {
                    w.WriteString("e", NeuronDataWriter.Clean(e.Explanation));
                    w.WritePropertyName("s");
                    NeuronDataWriter.Number(w, e.Score ?? double.NaN, "G4");
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }
}
