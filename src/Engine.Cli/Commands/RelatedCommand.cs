using System.CommandLine;
using NeuronEngine.Forward;
using NeuronEngine.Dump;
using NeuronEngine.IO;
using NeuronEngine.Model;
using NeuronEngine.Related;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Related;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine related`: per MLP neuron, from the weights alone, the tokens whose embedding drives it most and least
/// (input side) and the tokens whose logits its output direction raises and lowers most (output side), by OpenAI's
/// definition (default) or the direct path. docs/related.md.
/// </summary>
public static class RelatedCommand
{
    public static readonly string[] Formats = ["packed", "openai", "both"];

    public static Command Create()
    {
        var p = new CorpusPassOptions(); // the model, layer, device and precision options: related runs no corpus
        var outDir = CommonOptions.Out("output directory (layer-{L}.safetensors and/or {layer}/{neuron}.json, plus related.json)");
        var top = CommonOptions.AtMost(CommonOptions.AtLeast(new Option<int>("--top") { Description = "tokens per list", DefaultValueFactory = _ => 10 }, 1), 1000);
        var format = CommonOptions.OneOf(new Option<string>("--format") { Description = "packed (one safetensors per layer), openai ({layer}/{neuron}.json, OpenAI's WeightBasedSummaryOfNeuron) or both", DefaultValueFactory = _ => "packed" }, Formats);
        var definition = CommonOptions.OneOf(new Option<string>("--definition")
        {
            Description = "openai: OpenAI's README formulas (wte·diag(ln_2.g)·c_fc, c_proj·diag(ln_f.g)·wteᵀ), as their published lists; " +
                "direct-path: the embedding through ln_2 and c_fc with bias, the centred c_proj row through ln_f's scale",
            DefaultValueFactory = _ => "openai",
        }, RelatedDefinitions.Names);
        var withWpe0 = new Option<bool>("--with-wpe0") { Description = "direct-path input lists: add the position-0 embedding wpe[0] to each token's embedding" };
        var cmd = new Command("related", "per neuron, from the weights alone: the input tokens that excite or inhibit it and the output tokens it promotes or suppresses")
        {
            p.Model, p.Preset, p.ModelSeed, outDir, p.Layers, top, p.Device, format, definition, withWpe0, p.Precision,
        };
        cmd.SetAction(r =>
        {
            string layout = r.GetValue(format)!;
            int k = r.GetValue(top);
            var gemm = p.GemmPrecision(r);
            var formulas = RelatedDefinitions.Parse(r.GetValue(definition)!);
            RelatedRun.CheckPositionZero(formulas, r.GetValue(withWpe0));
            var (modelPath, modelName) = p.ResolveModel(r);
            using var weights = Gpt2Weights.Open(modelPath);
            var c = weights.Config;
            var selected = LayerSelection.Parse(r.GetValue(p.Layers)!, c.NLayer);
            var settings = new RelatedSettings
            {
                Model = modelName, ModelFingerprint = Fingerprint.OfFile(weights.File.Path), NeuronsPerLayer = c.DMlp,
                VocabSize = c.VocabSize, Layers = selected, Top = Math.Min(k, c.VocabSize), Definition = formulas.Name(),
                WithPositionZero = r.GetValue(withWpe0), Format = layout, Precision = gemm.Name(),
            };
            if (layout != "packed" && c.VocabSize > NeuronEngine.Text.Gpt2Tokenizer.VocabSize)
                throw new ArgumentException($"--format {layout} writes token strings with GPT-2's tokenizer, but the model's vocabulary has {c.VocabSize} tokens; use --format packed");
            string dir = r.GetValue(outDir)!;
            using var dev = RelatedDevices.Create(r.GetValue(p.Device)!, weights, formulas, settings.WithPositionZero, gemm);
            var run = new RelatedRun(dev, settings, dir);
            bool ran = ConsoleProgress.Run("related", "chunks", progress => run.Run(progress));
            if (!ran)
            {
                Console.Error.WriteLine($"related: {dir} already holds these complete related tokens; nothing to do");
                return 0;
            }
            double flops = 2.0 * 2 * c.VocabSize * c.NEmbd * (double)c.DMlp * run.LayersComputed;
            double seconds = Math.Max(run.ComputeTime.TotalSeconds, 1e-9);
            Console.Error.WriteLine($"related: layers {LayerSelection.Format(selected)} × {c.DMlp} neurons × {c.VocabSize} tokens, top {settings.Top}, definition {settings.Definition}, on {dev.Name} ({settings.Precision})" +
                (run.LayersKept > 0 ? $" ({run.LayersKept} layer(s) kept from an earlier run)" : "") + $": --format {layout} in {dir}");
            Console.Error.WriteLine($"related: time: compute {run.ComputeTime.TotalSeconds:F2} s ({flops / seconds / 1e9:F1} GFLOP/s), write {run.WriteTime.TotalSeconds:F2} s");
            return 0;
        });
        return cmd;
    }
}
