using System.CommandLine;
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
        var cmd = new Command("info", "show a model's configuration and the compute devices found") { model, preset };
        cmd.SetAction(r =>
        {
            var (path, name) = ModelSource.Resolve(r.GetValue(model), r.GetValue(preset));
            using var w = Gpt2Weights.Open(path);
            var c = w.Config;
            Console.WriteLine($"model:        {name}");
            Console.WriteLine($"file:         {w.File.Path}");
            Console.WriteLine($"dtype:        {w.DType}{(w.Prefix.Length > 0 ? $" (keys prefixed '{w.Prefix}')" : "")}");
            Console.WriteLine($"layers:       {c.NLayer}");
            Console.WriteLine($"d_model:      {c.NEmbd} ({c.NHead} heads of {c.HeadSize})");
            Console.WriteLine($"neurons:      {c.DMlp} per layer, {(long)c.DMlp * c.NLayer:N0} in all");
            Console.WriteLine($"n_positions:  {c.NPositions}");
            Console.WriteLine($"vocab_size:   {c.VocabSize}");
            Console.WriteLine($"ln epsilon:   {c.LayerNormEpsilon:G}");
            Console.WriteLine($"parameters:   {c.ParameterCount:N0} (without the tied LM head)");
            Console.WriteLine("devices:");
            foreach (var d in DeviceCatalog.Describe()) Console.WriteLine($"  {d}");
            return 0;
        });
        return cmd;
    }
}
