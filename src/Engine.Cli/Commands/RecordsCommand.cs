using NeuronEngine.Forward;
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
using NeuronEngine.Runtime.Dump;
using NeuronEngine.Pass;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Cli.Commands;

/// <summary>`engine records`: per-neuron top-k, random and quantile-band records plus moments (docs/design.md §4, §6).</summary>
public static class RecordsCommand
{
    public static Command Create(IPassHooks hooks)
    {
        var p = new CorpusPassOptions();
        var outDir = CommonOptions.Out("output directory ({layer}/{neuron}.json or layer-{L}.safetensors, plus records.json)");
        var topK = CommonOptions.NotNegative(CommonOptions.TopK("top windows per neuron by window maximum"));
        var random = CommonOptions.NotNegative(new Option<int>("--random") { Description = "uniformly sampled windows per neuron", DefaultValueFactory = _ => RecordsSettings.DefaultRandom });
        var perBand = CommonOptions.NotNegative(new Option<int>("--quantile-samples") { Description = "windows sampled in each of the 5 quantile bands", DefaultValueFactory = _ => RecordsSettings.DefaultQuantileSamples });
        var seed = CommonOptions.Seed("the random and quantile samples");
        var format = CommonOptions.RecordsFormat("openai ({layer}/{neuron}.json, OpenAI's NeuronRecord) or packed (one safetensors per layer; needed by merge)");
        var shard = new Option<string?>("--shard") { Description = "i/N: process only the i-th of N equal parts of the corpus windows (merge the parts with engine merge)" };
        shard.Validators.Add(v => { try { if (CommonOptions.TryGet(v, out string? text)) ShardSpec.Parse(text); } catch (ArgumentException e) { v.AddError(e.Message); } });
        var pilot = CommonOptions.AtLeast(new Option<int>("--pilot-windows") { Description = "windows (evenly spaced over the corpus) that fix the quantile boundaries", DefaultValueFactory = _ => QuantileBoundaries.DefaultPilotWindows }, 1);
        var dumpOut = CommonOptions.OptionalOutput("--dump-out", "also write the activations as `engine dump` shards to this directory, in the same pass");
        var dumpDType = CommonOptions.DumpDType("--dump-dtype", "storage dtype of the dump (with --dump-out)");
        var perShard = CommonOptions.WindowsPerShard("windows in each dump shard (with --dump-out)");
        var checkpointWindows = CommonOptions.NotNegative(new Option<long>("--checkpoint-windows") { Description = $"save the collected state every N windows so a killed run resumes (0: every {RecordsRun.DefaultCheckpointInterval.TotalMinutes:0} minutes)", DefaultValueFactory = _ => 0 });
        var tokenLookup = CommonOptions.AtMost(CommonOptions.NotNegative(new Option<int>("--token-lookup") { Description = "also write per neuron the K tokens with the highest average activation (OpenAI's TokenLookupTableSummaryOfNeuron) to token-lookup/{layer}/{neuron}.json (0: off)", DefaultValueFactory = _ => 0 }), 1000);
        var tokenLookupMin = CommonOptions.AtLeast(new Option<int>("--token-lookup-min-count") { Description = "with --token-lookup: list only tokens seen at least this many times in the corpus", DefaultValueFactory = _ => TokenLookupFiles.DefaultMinCount }, 1);
        var cmd = new Command("records", "collect each neuron's top, random and quantile-band windows and activation moments")
        {
            p.Model, p.Preset, p.Corpus, outDir, p.Layers, p.SeqLen, topK, random, perBand, seed, p.ModelSeed, format, p.Device, p.MaxWindows, p.Batch,
            shard, pilot, dumpOut, dumpDType, perShard, checkpointWindows, p.Precision, tokenLookup, tokenLookupMin,
        };
        cmd.SetAction((r, ct) => Task.FromResult(Execute(r, ct)));
        int Execute(ParseResult r, CancellationToken ct)
        {
            string layout = r.GetValue(format)!;
            var shardSpec = ShardSpec.Parse(r.GetValue(shard));
            if (r.GetValue(dumpOut) is not null && shardSpec != ShardSpec.Whole)
                throw new ArgumentException("--dump-out cannot be combined with --shard (a dump covers the whole corpus; shard the records, or dump separately)");
            if (r.GetValue(tokenLookup) > 0 && shardSpec != ShardSpec.Whole)
                throw new ArgumentException(RecordsRun.TokenLookupWithShard);
            if (r.GetValue(dumpOut) is { } d && Path.GetFullPath(d) == Path.GetFullPath(r.GetValue(outDir)!))
                throw new ArgumentException("--dump-out must be another directory than --out");
            using var inputs = p.OpenInputs(r);
            var (windows, selected) = (inputs.Windows, inputs.Layers);
            var gemm = p.GemmPrecision(r);
            var dumpSettings = inputs.DumpSettings(r.GetValue(dumpDType)!, "--dump-dtype", r.GetValue(perShard)) with { Precision = gemm.Name() };
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
                TokenLookup = r.GetValue(tokenLookup),
                TokenLookupMinCount = r.GetValue(tokenLookup) > 0 ? r.GetValue(tokenLookupMin) : null,
            };
            settings.Shape.Validate();
            // Allowed (the samples and moments alone are useful, e.g. with --token-lookup), but said: nothing downstream
            // can explain a neuron without its top windows.
            if (settings.TopK == 0)
                Console.Error.WriteLine("warning: --top-k 0: the records will hold no top windows (most_positive_activation_records empty), " +
                    "which explain, simulate and run need; only the random and quantile-band samples and the moments are collected");
            string dir = r.GetValue(outDir)!;
            using var dev = p.OpenDevice(r, inputs.Weights, gemm);
            settings = settings with { Device = dev.Name };
            using var dump = r.GetValue(dumpOut) is { } dumpDir ? new DumpSink(dumpSettings, dumpDir, DeviceShardSink.For(dev)) : null;
            var run = new RecordsRun(dev, windows, settings, layout, shardSpec, dir)
            {
                BatchWindows = p.BatchWindows(r, dev),
                CollectorFactory = RecordCollectors.For(dev),
                PilotSinkFactory = RecordCollectors.PilotFor(dev),
                CheckpointEveryWindows = r.GetValue(checkpointWindows),
                AlsoInPass = dump is null ? [] : [dump],
                Hooks = hooks,
            };
            bool ran = ConsoleProgress.Run("records", "windows", progress => run.Run(progress, ct));
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
            return CommandRunner.Done;
        }
        return cmd;
    }
}

/// <summary>`engine merge`: combine packed records of shards into one run's result.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var inputs = new Option<string[]>("--inputs") { Description = "records directories written with --format packed (e.g. one per --shard)", Required = true, AllowMultipleArgumentsPerToken = true };
        var outDir = CommonOptions.Out();
        var format = CommonOptions.RecordsFormat("openai ({layer}/{neuron}.json) or packed (one safetensors per layer)");
        var cmd = new Command("merge", "combine records of disjoint corpus shards into exactly the records of one run") { inputs, outDir, format };
        cmd.SetAction(r =>
        {
            string dir = r.GetValue(outDir)!;
            var m = RecordsMerge.Run(r.GetValue(inputs)!, dir, r.GetValue(format)!);
            Console.Error.WriteLine($"merge: windows {RecordsOutput.Describe(m.Windows)} of {m.Settings.TotalWindows} → {dir} (--format {m.Layout})");
            return CommandRunner.Done;
        });
        return cmd;
    }
}
