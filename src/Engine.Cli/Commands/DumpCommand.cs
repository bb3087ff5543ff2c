using NeuronEngine.Forward;
using System.CommandLine;
using NeuronEngine.Corpus;
using NeuronEngine.Dump;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Dump;
using NeuronEngine.Pass;

namespace NeuronEngine.Cli.Commands;

/// <summary>`engine dump`: activation shards of the requested layers over a corpus (DESIGN §3).</summary>
public static class DumpCommand
{
    public static Command Create(IPassHooks hooks)
    {
        var model = CommonOptions.Model();
        var preset = CommonOptions.Preset();
        var modelSeed = CommonOptions.ModelSeed();
        var corpus = CommonOptions.Corpus();
        var outDir = CommonOptions.Out("output directory (manifest.json + shard-NNNNN.safetensors)");
        var layers = CommonOptions.Layers();
        var seqLen = CommonOptions.SeqLen();
        var dtype = CommonOptions.DumpDType();
        var device = CommonOptions.Device();
        var maxWindows = CommonOptions.MaxWindows();
        var batch = CommonOptions.Batch();
        var perShard = CommonOptions.WindowsPerShard();
        var precision = CommonOptions.Precision();
        var oldSeed = CommonOptions.Deprecated<int>("--seed"); // was the weights' seed; --seed now always means sampling
        var cmd = new Command("dump", "write the MLP neurons of the requested layers over a corpus to safetensors shards")
        {
            model, preset, modelSeed, corpus, outDir, layers, seqLen, dtype, device, maxWindows, batch, perShard, oldSeed, precision,
        };
        cmd.SetAction((r, ct) => Task.FromResult(Execute(r, ct)));
        int Execute(ParseResult r, CancellationToken ct)
        {
            using var inputs = RunInputs.Open(r.GetValue(model), r.GetValue(preset), CommonOptions.ValueOrDeprecated(r, modelSeed, oldSeed, "dump"),
                r.GetValue(corpus), r.GetValue(layers)!, r.GetValue(seqLen), r.GetValue(maxWindows));
            var gemm = CommonOptions.ParsePrecision(r.GetValue(precision)!);
            var settings = inputs.DumpSettings(r.GetValue(dtype)!, "--dtype", r.GetValue(perShard)) with { Precision = gemm.Name() };
            var windows = inputs.Windows;
            string dir = r.GetValue(outDir)!;
            using var dev = DeviceCatalog.Create(r.GetValue(device)!, inputs.Weights, gemm);
            using var dump = new DumpSink(settings, dir, DeviceShardSink.For(dev));
            var pass = new CorpusPass(windows, inputs.Layers, r.GetValue(batch) ?? dev.DefaultBatchWindows) { Hooks = hooks };
            ConsoleProgress.Run("dump", "windows", p => pass.Run(PassWindows.Range(new WindowRange(0, windows.Count)), [new PassLane(dev, [dump])], p, ct));
            int shards = dump.ShardCount, written = dump.ShardsWritten;
            Console.Error.WriteLine($"dump: {windows.Count} windows × {windows.SeqLen} tokens, layers {LayerSelection.Format(inputs.Layers)} on {dev.Name} ({gemm.Name()}): " +
                $"{shards} shard(s) in {dir} ({written} written now, {shards - written} kept from an earlier run)");
            return CommandRunner.Done;
        }
        return cmd;
    }
}
