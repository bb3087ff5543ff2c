using System.CommandLine;
using NeuronEngine.Corpus;
using NeuronEngine.Dump;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Records;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Records;

namespace NeuronEngine.Cli.Commands;

/// <summary>`engine records`: per-neuron top-k, random and quantile-band records plus moments (DESIGN §4, §6).</summary>
public static class RecordsCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var preset = CommonOptions.Preset();
        var corpus = CommonOptions.Corpus();
        var outDir = new Option<string>("--out") { Description = "output directory ({layer}/{neuron}.json or layer-{L}.safetensors, plus records.json)", Required = true };
        var layers = CommonOptions.Layers();
        var seqLen = CommonOptions.SeqLen();
        var topK = new Option<int>("--top-k") { Description = "top windows per neuron by window maximum", DefaultValueFactory = _ => 20 };
        var random = new Option<int>("--random") { Description = "uniformly sampled windows per neuron", DefaultValueFactory = _ => 20 };
        var perBand = new Option<int>("--quantile-samples") { Description = "windows sampled in each of the 5 quantile bands", DefaultValueFactory = _ => 5 };
        var seed = new Option<ulong>("--seed") { Description = "seed of the random and quantile samples", DefaultValueFactory = _ => 0 };
        var modelSeed = new Option<int>("--model-seed") { Description = "seed of synthetic weights (with --preset or no --model)", DefaultValueFactory = _ => 0 };
        var format = new Option<string>("--format") { Description = "openai ({layer}/{neuron}.json, OpenAI's NeuronRecord) or packed (one safetensors per layer; needed by merge)", DefaultValueFactory = _ => "openai" };
        var device = CommonOptions.Device();
        var maxWindows = CommonOptions.MaxWindows();
        var batch = CommonOptions.Batch();
        var shard = new Option<string?>("--shard") { Description = "i/N: process only the i-th of N equal parts of the corpus windows (merge the parts with engine merge)" };
        var pilot = new Option<int>("--pilot-windows") { Description = "windows (evenly spaced over the corpus) that fix the quantile boundaries", DefaultValueFactory = _ => QuantileBoundaries.DefaultPilotWindows };
        var dumpOut = new Option<string?>("--dump-out") { Description = "also write the activations as `engine dump` shards to this directory, in the same pass" };
        var dumpDType = new Option<string>("--dump-dtype") { Description = "f32 or f16 (with --dump-out)", DefaultValueFactory = _ => "f32" };
        var perShard = new Option<int>("--windows-per-shard") { Description = "windows in each dump shard (with --dump-out)", DefaultValueFactory = _ => 256 };
        var precision = CommonOptions.Precision();
        var checkpointWindows = new Option<long>("--checkpoint-windows") { Description = "save the collected state every N windows so a killed run resumes (0: every 10 minutes)", DefaultValueFactory = _ => 0 };
        var cmd = new Command("records", "collect each neuron's top, random and quantile-band windows and activation moments")
        {
            model, preset, corpus, outDir, layers, seqLen, topK, random, perBand, seed, modelSeed, format, device, maxWindows, batch, shard, pilot,
            dumpOut, dumpDType, perShard, checkpointWindows, precision,
        };
        cmd.SetAction(r =>
        {
            string layout = r.GetValue(format)!;
            if (!RecordsOutput.Layouts.Contains(layout)) throw new ArgumentException($"--format: '{layout}' is not openai or packed");
            var shardSpec = ShardSpec.Parse(r.GetValue(shard));
            if (r.GetValue(pilot) < 1) throw new ArgumentException("--pilot-windows must be at least 1");
            using var inputs = RunInputs.Open(r.GetValue(model), r.GetValue(preset), r.GetValue(modelSeed), r.GetValue(corpus),
                r.GetValue(layers)!, r.GetValue(seqLen), r.GetValue(maxWindows));
            var (windows, selected) = (inputs.Windows, inputs.Layers);
            var gemm = CommonOptions.ParsePrecision(r.GetValue(precision)!);
            var dump = inputs.DumpSettings(r.GetValue(dumpDType)!, "--dump-dtype", r.GetValue(perShard)) with { Precision = gemm.Name() };
            var settings = new RecordsSettings
            {
                Model = inputs.ModelName,
                ModelFingerprint = inputs.ModelFingerprint,
                Corpus = inputs.Corpus,
                CorpusFingerprint = inputs.CorpusFingerprint,
                Device = "pending",
                NeuronsPerLayer = inputs.Config.DMlp,
                Layers = selected,
                SeqLen = windows.SeqLen,
                TopK = r.GetValue(topK),
                Random = r.GetValue(random),
                QuantileSamples = r.GetValue(perBand),
                Seed = r.GetValue(seed),
                TotalWindows = windows.Count,
                PilotWindows = r.GetValue(pilot),
                Precision = gemm.Name(),
            };
            settings.Shape.Validate();
            using var dev = DeviceCatalog.Create(r.GetValue(device)!, inputs.Weights, gemm);
            settings = settings with { Device = dev.Name };
            string dir = r.GetValue(outDir)!;
            if (r.GetValue(checkpointWindows) < 0) throw new ArgumentException("--checkpoint-windows must not be negative");
            var run = new RecordsRun(dev, windows, settings, layout, shardSpec, dir)
            {
                BatchWindows = r.GetValue(batch) ?? dev.DefaultBatchWindows,
                CollectorFactory = RecordCollectors.For(dev),
                PilotSinkFactory = RecordCollectors.PilotFor(dev),
                CheckpointEveryWindows = r.GetValue(checkpointWindows),
                DumpDirectory = r.GetValue(dumpOut),
                ShardSinks = DeviceShardSink.For(dev),
                Dump = dump,
            };
            bool ran = ConsoleProgress.Run("records", p => run.Run(p));
            var range = shardSpec.Range(windows.Count);
            if (run.ResumedFrom is { } from) Console.Error.WriteLine($"records: resumed from the checkpoint at window {from}");
            Console.Error.WriteLine(ran
                ? $"records: windows {range.First}-{range.End - 1} of {windows.Count} × {windows.SeqLen} tokens, layers {LayerSelection.Format(selected)} on {dev.Name} ({gemm.Name()}): --format {layout} in {dir}"
                : $"records: {dir} already holds these complete records; nothing to do");
            if (ran)
            {
                var t = run.Timings;
                double rate = t.PassWindows * windows.SeqLen / Math.Max(t.Pass.TotalSeconds, 1e-9);
                Console.Error.WriteLine($"records: time: pilot {t.Pilot.TotalSeconds:F2} s ({t.PilotWindows} windows), " +
                    $"pass {t.Pass.TotalSeconds:F2} s ({t.PassWindows} windows, {rate:F0} tokens/s), write {t.Write.TotalSeconds:F2} s");
            }
            return 0;
        });
        return cmd;
    }
}

/// <summary>`engine merge`: combine packed records of shards into one run's result.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var inputs = new Option<string[]>("--inputs") { Description = "records directories written with --format packed (e.g. one per --shard)", Required = true, AllowMultipleArgumentsPerToken = true };
        var outDir = new Option<string>("--out") { Description = "output directory", Required = true };
        var format = new Option<string>("--format") { Description = "openai or packed", DefaultValueFactory = _ => "openai" };
        var cmd = new Command("merge", "combine records of disjoint corpus shards into exactly the records of one run") { inputs, outDir, format };
        cmd.SetAction(r =>
        {
            var m = RecordsMerge.Run(r.GetValue(inputs)!, r.GetValue(outDir)!, r.GetValue(format)!);
            Console.Error.WriteLine($"merge: windows {RecordsOutput.Describe(m.Windows)} of {m.Settings.TotalWindows} → {r.GetValue(outDir)} (--format {m.Layout})");
            return 0;
        });
        return cmd;
    }
}
