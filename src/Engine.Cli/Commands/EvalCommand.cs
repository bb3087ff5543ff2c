using System.CommandLine;
using System.Text.Json.Nodes;
using NeuronEngine.Eval;
using NeuronEngine.Forward;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine eval`: the model's mean next-token cross-entropy over the corpus's windows (nats and bits per token,
/// perplexity) — the full forward pass with the LM head, the first figure to compare with published numbers.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var p = new CorpusPassOptions();
        var json = new Option<bool>("--json") { Description = "print one JSON object (loss in nats per predicted token, bits_per_token, perplexity, tokens)" };
        var cmd = new Command("eval", "the model's next-token loss (nats, bits per token) and perplexity over a corpus")
        {
            p.Model, p.Preset, p.ModelSeed, p.Corpus, p.SeqLen, p.MaxWindows, p.Batch, p.Device, p.Precision, json,
        };
        cmd.SetAction((r, cancel) =>
        {
            var gemm = p.GemmPrecision(r);
            using var inputs = RunInputs.Open(r.GetValue(p.Model), r.GetValue(p.Preset), r.GetValue(p.ModelSeed), r.GetValue(p.Corpus),
                "all", r.GetValue(p.SeqLen), r.GetValue(p.MaxWindows), r.GetValue(p.Device)!);
            using var device = p.OpenDevice(r, inputs.Weights, gemm);
            int batch = p.BatchWindows(r, device);
            var result = ConsoleProgress.Run("eval", "windows", progress => ModelEval.Run(device, inputs.Windows, batch, progress, cancel));
            if (r.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["model"] = inputs.ModelName, ["corpus"] = inputs.Corpus, ["device"] = device.Name, ["precision"] = gemm.Name(),
                    ["seq_len"] = result.SeqLen, ["windows"] = result.Windows, ["tokens"] = result.Tokens,
                    ["loss"] = result.Loss, ["bits_per_token"] = result.BitsPerToken, ["perplexity"] = result.Perplexity,
                }.ToJsonString());
                return Task.FromResult(CommandRunner.Done);
            }
            Console.WriteLine($"{inputs.ModelName} on {inputs.Corpus}: {result.Windows:N0} windows of {result.SeqLen}, {result.Tokens:N0} predicted tokens, {device.Name} ({gemm.Name()})");
            Console.WriteLine($"loss: {result.Loss:F4} nats/token   {result.BitsPerToken:F4} bits/token   perplexity {result.Perplexity:F2}");
            return Task.FromResult(CommandRunner.Done);
        });
        return cmd;
    }
}
