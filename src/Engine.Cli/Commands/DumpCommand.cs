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

/// <summary>`engine dump`: activation shards of the requested layers over a corpus (docs/design.md §3).</summary>
public static class DumpCommand
{
    public static Command Create(IPassHooks hooks)
    {
        var p = new CorpusPassOptions();
        var outDir = CommonOptions.Out("output directory (manifest.json + shard-NNNNN.safetensors)");
        var dtype = CommonOptions.DumpDType();
        var perShard = CommonOptions.WindowsPerShard();
        var oldSeed = CommonOptions.Deprecated<int>("--seed"); // was the weights' seed; --seed now always means sampling
        var cmd = new Command("dump", "write the MLP neurons of the requested layers over a corpus to safetensors shards")
        {
            p.Model, p.Preset, p.ModelSeed, p.Corpus, outDir, p.Layers, p.SeqLen, dtype, p.Device, p.MaxWindows, p.Batch, perShard, oldSeed, p.Precision,
        };
        cmd.SetAction((r, ct) => Task.FromResult(Execute(r, ct)));
        int Execute(ParseResult r, CancellationToken ct)
        {
            using var inputs = p.OpenInputs(r, CommonOptions.ValueOrDeprecated(r, p.ModelSeed, oldSeed, "dump"));
            var gemm = p.GemmPrecision(r);
            var settings = inputs.DumpSettings(r.GetValue(dtype)!, "--dtype", r.GetValue(perShard)) with { Precision = gemm.Name() };
            var windows = inputs.Windows;
            string dir = r.GetValue(outDir)!;
            using var dev = p.OpenDevice(r, inputs.Weights, gemm);
            using var dump = new DumpSink(settings, dir, DeviceShardSink.For(dev));
            var pass = new CorpusPass(windows, inputs.Layers, p.BatchWindows(r, dev)) { Hooks = hooks };
            ConsoleProgress.Run("dump", "windows", progress => pass.Run(PassWindows.Range(new WindowRange(0, windows.Count)), [new PassLane(dev, [dump])], progress, ct));
            int shards = dump.ShardCount, written = dump.ShardsWritten;
            Console.Error.WriteLine($"dump: {windows.Count} windows × {windows.SeqLen} tokens, layers {LayerSelection.Format(inputs.Layers)} on {dev.Name} ({gemm.Name()}): " +
                $"{shards} shard(s) in {dir} ({written} written now, {shards - written} kept from an earlier run)");
            return CommandRunner.Done;
        }
        return cmd;
    }
}
