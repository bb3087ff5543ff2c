using System.CommandLine;
using NeuronEngine.Corpus;
using NeuronEngine.Dump;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Runtime;

namespace NeuronEngine.Cli.Commands;

/// <summary>`engine dump`: activation shards of the requested layers over a corpus (DESIGN §3).</summary>
public static class DumpCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var preset = CommonOptions.Preset();
        var corpus = CommonOptions.Corpus();
        var outDir = new Option<string>("--out") { Description = "output directory (manifest.json + shard-NNNNN.safetensors)", Required = true };
        var layers = CommonOptions.Layers();
        var seqLen = CommonOptions.SeqLen();
        var dtype = new Option<string>("--dtype") { Description = "f32 or f16", DefaultValueFactory = _ => "f32" };
        var device = CommonOptions.Device();
        var maxWindows = CommonOptions.MaxWindows();
        var batch = CommonOptions.Batch();
        var perShard = new Option<int>("--windows-per-shard") { Description = "windows in each shard file", DefaultValueFactory = _ => 256 };
        var seed = CommonOptions.Seed();
        var precision = CommonOptions.Precision();
        var cmd = new Command("dump", "write the MLP neurons of the requested layers over a corpus to safetensors shards")
        {
            model, preset, corpus, outDir, layers, seqLen, dtype, device, maxWindows, batch, perShard, seed, precision,
        };
        cmd.SetAction(r =>
        {
            using var inputs = RunInputs.Open(r.GetValue(model), r.GetValue(preset), r.GetValue(seed), r.GetValue(corpus),
                r.GetValue(layers)!, r.GetValue(seqLen), r.GetValue(maxWindows));
            var gemm = CommonOptions.ParsePrecision(r.GetValue(precision)!);
            var settings = inputs.DumpSettings(r.GetValue(dtype)!, "--dtype", r.GetValue(perShard)) with { Precision = gemm.Name() };
            var windows = inputs.Windows;
            using var dev = DeviceCatalog.Create(r.GetValue(device)!, inputs.Weights, gemm);
            string dir = r.GetValue(outDir)!;
            var dumper = new ActivationDumper(dev, windows, settings, dir)
            {
                BatchWindows = r.GetValue(batch) ?? dev.DefaultBatchWindows,
                ShardSinks = DeviceShardSink.For(dev),
            };
            int written = ConsoleProgress.Run("dump", p => dumper.Run(p));
            int shards = DumpManifest.TryLoad(dir)!.Shards.Count;
            Console.Error.WriteLine($"dump: {windows.Count} windows × {windows.SeqLen} tokens, layers {LayerSelection.Format(inputs.Layers)} on {dev.Name} ({gemm.Name()}): " +
                $"{shards} shard(s) in {dir} ({written} written now, {shards - written} kept from an earlier run)");
            return 0;
        });
        return cmd;
    }
}
