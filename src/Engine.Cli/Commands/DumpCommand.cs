using System.CommandLine;
using NeuronEngine.Corpus;
using NeuronEngine.Dump;
using NeuronEngine.Format;
using NeuronEngine.IO;
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
        var cmd = new Command("dump", "write the MLP neurons of the requested layers over a corpus to safetensors shards")
        {
            model, preset, corpus, outDir, layers, seqLen, dtype, device, maxWindows, batch, perShard, seed,
        };
        cmd.SetAction(r =>
        {
            var storage = TensorDTypes.ParseFloat(r.GetValue(dtype)!);
            if (storage is not (TensorDType.F32 or TensorDType.F16)) throw new ArgumentException("--dtype must be f32 or f16");
            if (r.GetValue(perShard) < 1) throw new ArgumentException("--windows-per-shard must be at least 1");
            var (modelPath, modelName) = ModelSource.Resolve(r.GetValue(model), r.GetValue(preset), r.GetValue(seed));
            string corpusPath = ModelSource.ResolveCorpus(r.GetValue(corpus));
            using var weights = Gpt2Weights.Open(modelPath);
            var c = weights.Config;
            var selected = LayerSelection.Parse(r.GetValue(layers)!, c.NLayer);
            using var windows = CorpusReader.Open(corpusPath, r.GetValue(seqLen), c.NPositions, c.VocabSize, maxWindows: r.GetValue(maxWindows));
            using var dev = DeviceCatalog.Create(r.GetValue(device)!, weights);
            var settings = new DumpSettings
            {
                Model = modelName,
                ModelFingerprint = Fingerprint.OfFile(weights.File.Path),
                Corpus = Path.GetFullPath(corpusPath),
                CorpusFingerprint = Fingerprint.OfFile(corpusPath),
                NLayer = c.NLayer,
                NeuronsPerLayer = c.DMlp,
                Layers = selected,
                SeqLen = windows.SeqLen,
                DType = storage.ToString(),
                WindowsPerShard = r.GetValue(perShard),
                TotalWindows = windows.Count,
            };
            string dir = r.GetValue(outDir)!;
            var dumper = new ActivationDumper(dev, windows, settings, dir)
            {
                BatchWindows = r.GetValue(batch) ?? dev.DefaultBatchWindows,
                ShardSinks = DeviceShardSink.For(dev),
            };
            int written = ConsoleProgress.Run("dump", p => dumper.Run(p));
            int shards = DumpManifest.TryLoad(dir)!.Shards.Count;
            Console.Error.WriteLine($"dump: {windows.Count} windows × {windows.SeqLen} tokens, layers {LayerSelection.Format(selected)} on {dev.Name}: " +
                $"{shards} shard(s) in {dir} ({written} written now, {shards - written} kept from an earlier run)");
            return 0;
        });
        return cmd;
    }
}
