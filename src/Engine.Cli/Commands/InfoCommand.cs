using System.CommandLine;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.Model;
using NeuronEngine.Runtime;

namespace NeuronEngine.Cli.Commands;

/// <summary>`engine info --model M`: the model's config, parameter count and the devices found.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var preset = CommonOptions.Preset();
        var modelSeed = CommonOptions.ModelSeed();
        var cmd = new Command("info", "show a model's configuration and the compute devices found") { model, preset, modelSeed };
        cmd.SetAction(r =>
        {
            // A preset's shape is known without its weights: info never generates them (0.5 to 5.9 GB).
            if (r.GetValue(model) is null && r.GetValue(preset) is { } p && !SyntheticModelCache.Exists(p, r.GetValue(modelSeed)))
            {
                Print(ModelSource.SyntheticName(p, r.GetValue(modelSeed)),
                    $"(not generated yet: {DiskSpace.Format(SyntheticModelCache.Bytes(p))} are written to {SyntheticModelCache.DirectoryFor(p, r.GetValue(modelSeed), TensorDType.F32)} on first use)",
                    "F32", Gpt2Config.Preset(p));
                return CommandRunner.Done;
            }
            var (path, name) = ModelSource.Resolve(r.GetValue(model), r.GetValue(preset), r.GetValue(modelSeed));
            using var w = Gpt2Weights.Open(path);
            Print(name, w.File.Path, $"{w.DType}{(w.Prefix.Length > 0 ? $" (keys prefixed '{w.Prefix}')" : "")}", w.Config);
            return CommandRunner.Done;
        });
        return cmd;
    }

    private static void Print(string name, string file, string dtype, Gpt2Config c)
    {
        Console.WriteLine($"model:        {name}");
        Console.WriteLine($"file:         {file}");
        Console.WriteLine($"dtype:        {dtype}");
        Console.WriteLine($"layers:       {c.NLayer}");
        Console.WriteLine($"d_model:      {c.NEmbd} ({c.NHead} heads of {c.HeadSize})");
        Console.WriteLine($"neurons:      {c.DMlp} per layer, {(long)c.DMlp * c.NLayer:N0} in all");
        Console.WriteLine($"n_positions:  {c.NPositions}");
        Console.WriteLine($"vocab_size:   {c.VocabSize}");
        Console.WriteLine($"ln epsilon:   {c.LayerNormEpsilon:G}");
        Console.WriteLine($"parameters:   {c.ParameterCount:N0} (without the tied LM head)");
        Console.WriteLine("devices:");
        foreach (var d in DeviceCatalog.Describe()) Console.WriteLine($"  {d}");
    }
}
