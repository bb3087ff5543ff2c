using System.CommandLine;
using NeuronEngine.Connections;
using NeuronEngine.Dump;
using NeuronEngine.Forward;
using NeuronEngine.IO;
using NeuronEngine.Model;
using NeuronEngine.Runtime.Connections;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine connections`: per MLP neuron of the chosen layers, from the weights alone, the earlier-layer (upstream) and
/// later-layer (downstream) neurons with the most positive and most negative connection weights, by OpenAI's
/// definition (c_proj(l₁)[n₁] · diag(ln_2.g(l₂)) · c_fc(l₂)[:, n₂]). docs/related.md.
/// </summary>
public static class ConnectionsCommand
{
    public static readonly string[] Formats = ["packed", "json", "both"];

    public static Command Create()
    {
        var p = new CorpusPassOptions(); // the model, layer, device and precision options: connections runs no corpus
        var outDir = CommonOptions.Out("output directory (layer-{L}.safetensors and/or {layer}/{neuron}.json, plus connections.json)");
        var top = CommonOptions.AtMost(CommonOptions.AtLeast(new Option<int>("--top") { Description = "neurons per list", DefaultValueFactory = _ => 10 }, 1), 1000);
        var format = CommonOptions.OneOf(new Option<string>("--format")
        {
            Description = "packed (one safetensors per layer), json ({layer}/{neuron}.json, WeightBasedConnectionsOfNeuron) or both",
            DefaultValueFactory = _ => "packed",
        }, Formats);
        var cmd = new Command("connections", "per neuron, from the weights alone: the earlier and later neurons it is most positively and negatively connected to (OpenAI's definition)")
        {
            p.Model, p.Preset, p.ModelSeed, outDir, p.Layers, top, p.Device, format, p.Precision,
        };
        cmd.SetAction(r =>
        {
            var gemm = p.GemmPrecision(r);
            var (modelPath, modelName) = p.ResolveModel(r);
            using var weights = Gpt2Weights.Open(modelPath);
            var c = weights.Config;
            var selected = LayerSelection.Parse(r.GetValue(p.Layers)!, c.NLayer);
            var settings = new ConnectionsSettings
            {
                Model = modelName, ModelFingerprint = Fingerprint.OfFile(weights.File.Path), ModelLayers = c.NLayer, NeuronsPerLayer = c.DMlp,
                Layers = selected, Top = Math.Min(r.GetValue(top), c.DMlp), Format = r.GetValue(format)!, Precision = gemm.Name(),
            };
            string dir = r.GetValue(outDir)!;
            using var dev = ConnectionsDevices.Create(r.GetValue(p.Device)!, weights, gemm);
            var run = new ConnectionsRun(dev, settings, dir);
            bool ran = ConsoleProgress.Run("connections", "layer pairs", progress => run.Run(progress));
            if (!ran)
            {
                Console.Error.WriteLine($"connections: {dir} already holds these complete connections; nothing to do");
                return 0;
            }
            // Said once: the lists a selection cannot fill.
            if (selected.Contains(0))
                Console.Error.WriteLine("connections: layer 0 has no earlier layer: its upstream lists are empty");
            if (selected.Contains(c.NLayer - 1))
                Console.Error.WriteLine($"connections: layer {c.NLayer - 1} is the last layer: its downstream lists are empty");
            double flops = 2.0 * c.DMlp * c.NEmbd * c.DMlp * run.PairsComputed;
            double seconds = Math.Max(run.ComputeTime.TotalSeconds, 1e-9);
            Console.Error.WriteLine($"connections: layers {LayerSelection.Format(selected)} × {c.DMlp} neurons, top {settings.Top}, {run.PairsComputed} layer pair(s) " +
                $"of {c.DMlp} × {c.NEmbd} × {c.DMlp}, on {dev.Name} ({settings.Precision})" +
                (run.LayersKept > 0 ? $" ({run.LayersKept} layer(s) kept from an earlier run)" : "") + $": --format {settings.Format} in {dir}");
            Console.Error.WriteLine($"connections: time: compute {run.ComputeTime.TotalSeconds:F2} s" +
                (run.PairsComputed > 0 ? $" ({run.ComputeTime.TotalSeconds / run.PairsComputed:F3} s per pair, {flops / seconds / 1e9:F1} GFLOP/s)" : "") +
                $", write {run.WriteTime.TotalSeconds:F2} s");
            return 0;
        });
        return cmd;
    }
}
