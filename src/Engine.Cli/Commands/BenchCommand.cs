using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Forward;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine bench`: forward-pass throughput on random tokens, per layer (ms, GFLOP/s) and overall (tokens/s,
/// GFLOP/s, % of the device's fp32 peak where known). Layers are timed with the device synchronised after
/// each one, so the overall figure comes from separate unsynchronised passes.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var p = new CorpusPassOptions();
        var seed = CommonOptions.Seed("the random tokens timed");
        var iterations = CommonOptions.AtLeast(new Option<int>("--iterations") { Description = "timed passes", DefaultValueFactory = _ => 5 }, 1);
        var warmup = CommonOptions.NotNegative(new Option<int>("--warmup") { Description = "untimed passes first (kernel compilation, uploads)", DefaultValueFactory = _ => 1 });
        var json = new Option<bool>("--json") { Description = "print one JSON object instead of a table" };
        var cmd = new Command("bench", "measure forward-pass throughput per layer on a device")
        {
            p.Model, p.Preset, p.ModelSeed, p.Layers, p.SeqLen, p.Device, p.Batch, seed, iterations, warmup, json, p.Precision,
        };
        cmd.SetAction(r =>
        {
            var (path, name) = p.ResolveModel(r);
            using var weights = Gpt2Weights.Open(path);
            var c = weights.Config;
            var selected = LayerSelection.Parse(r.GetValue(p.Layers)!, c.NLayer);
            int t = r.GetValue(p.SeqLen);
            if (t > c.NPositions) throw new ArgumentException($"--seq-len {t} must be within 1..{c.NPositions}");
            var gemm = p.GemmPrecision(r);
            using var dev = p.OpenDevice(r, weights, gemm);
            int b = p.BatchWindows(r, dev);
            var rng = new Random(unchecked((int)r.GetValue(seed)));
            var tokens = Enumerable.Range(0, b * t).Select(_ => rng.Next(c.VocabSize)).ToArray();
            int last = selected.Max();

            for (int i = 0; i < r.GetValue(warmup); i++) dev.Run(tokens, b, t, selected, NullActivationSink.Instance, 0);
            int iters = r.GetValue(iterations);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < iters; i++) dev.Run(tokens, b, t, selected, NullActivationSink.Instance, 0);
            double seconds = clock.Elapsed.TotalSeconds / iters;
            var perLayer = new double[c.NLayer];
            dev.LayerMilliseconds = perLayer;
            for (int i = 0; i < iters; i++) dev.Run(tokens, b, t, selected, NullActivationSink.Instance, 0);
            dev.LayerMilliseconds = null;

            long tokenCount = (long)b * t;
            double flops = c.FlopsPerToken(last, t) * tokenCount;
            double? peak = DevicePeaks.Fp32TeraFlops(dev);
            double? gemmPeak = DevicePeaks.TeraFlops(dev, gemm);
            var report = new JsonObject
            {
                ["model"] = name,
                ["device"] = dev.Name,
                ["device_name"] = DevicePeaks.DeviceName(dev),
                ["precision"] = gemm.Name(),
                ["batch"] = b,
                ["seq_len"] = t,
                ["last_layer"] = last,
                ["iterations"] = iters,
                ["seconds_per_pass"] = seconds,
                ["tokens_per_second"] = tokenCount / seconds,
                ["gflops"] = flops / seconds / 1e9,
                ["fp32_peak_tflops"] = peak,
                ["percent_of_peak"] = peak is double fp32Peak ? 100 * flops / seconds / (fp32Peak * 1e12) : null,
                ["precision_peak_tflops"] = gemmPeak,
                ["percent_of_precision_peak"] = gemmPeak is double q ? 100 * flops / seconds / (q * 1e12) : null,
                ["layers"] = new JsonArray(Enumerable.Range(0, last + 1).Select(l =>
                {
                    double ms = perLayer[l] / iters;
                    double lf = c.LayerFlopsPerToken(t, l < last) * tokenCount;
                    return (JsonNode)new JsonObject { ["layer"] = l, ["ms"] = ms, ["gflops"] = lf / (ms / 1e3) / 1e9 };
                }).ToArray()),
            };
            if (r.GetValue(json))
            {
                Console.WriteLine(report.ToJsonString());
                return CommandRunner.Done;
            }
            Console.WriteLine($"{name} on {dev.Name} ({report["device_name"]}), {gemm.Name()} GEMMs: batch {b} × {t} tokens, layers 0-{last}");
            Console.WriteLine($"{"layer",5} {"ms",10} {"GFLOP/s",10}");
            foreach (var l in report["layers"]!.AsArray())
                Console.WriteLine($"{l!["layer"],5} {(double)l["ms"]!,10:F3} {(double)l["gflops"]!,10:F1}");
            Console.WriteLine($"tokens/s: {tokenCount / seconds:N0}   GFLOP/s: {flops / seconds / 1e9:N1}" +
                (peak is double pk ? $"   {100 * flops / seconds / (pk * 1e12):F1}% of {pk} TFLOP/s fp32 peak" : "   (fp32 peak unknown for this device)") +
                (gemm != MatMulPrecision.Fp32 && gemmPeak is double gp ? $", {100 * flops / seconds / (gp * 1e12):F1}% of {gp} TFLOP/s {gemm.Name()} peak" : ""));
            return CommandRunner.Done;
        });
        return cmd;
    }
}
