using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using NeuronEngine.Kernels;
using NeuronEngine.Precision;
using NeuronEngine.Runtime;
using NeuronEngine.Pass;
using NeuronEngine.Forward;
using NeuronEngine.Model;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine precision-effect`: what tf32/bf16 GEMMs change in the results, against fp32 on the same device and windows
/// (docs/precision.md). Each batch runs in fp32 and in every compared precision; it reports, over every neuron of the
/// requested layers, max / p99.9 / p99 / median |Δ activation| and the agreement of the records' top windows
/// (OpenAI's top-k by window maximum, ties → lower window): the fraction of neurons with the same top-k set (and list),
/// the mean overlap, and how each neuron's maximum activation changed.
/// </summary>
public static class PrecisionEffectCommand
{
    public static Command Create()
    {
        var p = new CorpusPassOptions();
        var compare = new Option<string>("--compare") { Description = "precisions compared with fp32, comma-separated", DefaultValueFactory = _ => "tf32,bf16" };
        var topK = CommonOptions.AtLeast(CommonOptions.TopK("top windows per neuron by window maximum (as engine records)"), 1);
        var json = new Option<string?>("--json") { Description = "also write the report as JSON to this file" };
        var cmd = new Command("precision-effect", "measure what tf32/bf16 GEMMs change in activations and top records, against fp32")
        {
            p.Model, p.Preset, p.Corpus, p.Layers, p.SeqLen, p.Device, p.MaxWindows, p.Batch, p.ModelSeed, compare, topK, json,
        };
        cmd.SetAction((r, ct) => Task.FromResult(Execute(r, ct)));
        int Execute(ParseResult r, CancellationToken ct)
        {
            var precisions = r.GetValue(compare)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(x => MatMulPrecisions.Parse(x, "--compare")).Distinct().ToList();
            if (precisions.Count == 0 || precisions.Contains(MatMulPrecision.Fp32))
                throw new ArgumentException("--compare: name tf32 and/or bf16 (fp32 is the reference)");
            int k = r.GetValue(topK);
            using var inputs = p.OpenInputs(r);
            var windows = inputs.Windows;
            int neurons = inputs.Config.DMlp;
            var devices = new List<IForwardDevice>();
            try
            {
                devices.Add(p.OpenDevice(r, inputs.Weights));
                foreach (var precision in precisions) devices.Add(p.OpenDevice(r, inputs.Weights, precision));
                var reference = new ReferenceSink(inputs.Layers, neurons, k);
                var sinks = precisions.Select(x => new ComparisonSink(x.Name(), reference, inputs.Layers, neurons, k)).ToList();
                // One corpus pass, one lane per precision: each batch runs through the fp32 device first, then each other.
                var pass = new CorpusPass(windows, inputs.Layers, p.BatchWindows(r, devices[0]));
                var lanes = devices.Select((d, i) => new PassLane(d, [new PlainPassSink(i == 0 ? reference : sinks[i - 1])])).ToList();
                var result = ConsoleProgress.Run("precision-effect", "windows",
                    progress => pass.Run(PassWindows.Range(new WindowRange(0, windows.Count)), lanes, progress, ct));
                var seconds = result.LaneTimes.Select(t => t.TotalSeconds).ToArray();

                var reports = sinks.Select(s => s.Report()).ToList();
                var output = new JsonObject
                {
                    ["model"] = inputs.ModelName,
                    ["corpus"] = inputs.Corpus,
                    ["device"] = devices[0].Name,
                    ["windows"] = windows.Count,
                    ["seq_len"] = windows.SeqLen,
                    ["layers"] = LayerSelection.Format(inputs.Layers),
                    ["reference"] = "fp32",
                    ["reference_max_abs_activation"] = reference.Activations.Max,
                    ["reference_p999_abs_activation"] = reference.Activations.Quantile(0.999),
                    ["seconds"] = new JsonObject(devices.Select((d, i) => KeyValuePair.Create(d.Precision.Name(), (JsonNode?)seconds[i]))),
                    ["precisions"] = JsonSerializer.SerializeToNode(reports),
                };
                if (r.GetValue(json) is { } path) File.WriteAllText(path, output.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                Console.WriteLine($"{inputs.ModelName} on {devices[0].Name}: {windows.Count} windows × {windows.SeqLen} tokens, layers " +
                    $"{LayerSelection.Format(inputs.Layers)}, {reports.FirstOrDefault()?.Neurons ?? 0} neurons; fp32 |activation| max " +
                    $"{reference.Activations.Max:G3}, p99.9 {reference.Activations.Quantile(0.999):G3}");
                Console.WriteLine($"{"vs fp32",8} {"max|Δ|",9} {"p99.9|Δ|",9} {"p99|Δ|",9} {"same top-" + k,12} {"overlap",8} {"Δmax mean",10} {"Δmax max",9}");
                foreach (var x in reports)
                    Console.WriteLine($"{x.Precision,8} {x.MaxAbsDiff,9:G3} {x.P999AbsDiff,9:G3} {x.P99AbsDiff,9:G3} {x.IdenticalTopSets,12:P1} " +
                        $"{x.MeanTopOverlap,8:P1} {x.MaxActivationChangeMean,10:G3} {x.MaxActivationChangeMax,9:G3}");
                return 0;
            }
            finally
            {
                foreach (var d in devices) d.Dispose();
            }
        }
        return cmd;
    }
}
