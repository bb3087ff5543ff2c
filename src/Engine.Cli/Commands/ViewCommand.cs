using System.CommandLine;
using NeuronEngine.View;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Cli.Commands;

/// <summary>`engine view`: a static HTML site over records (+ results, + related tokens, + connections) that opens from file:// (docs/viewer.md).</summary>
public static class ViewCommand
{
    public static Command Create()
    {
        var records = new Option<string>("--records") { Description = "neuron records: engine records output (either --format) or OpenAI's {layer}/{neuron}.json", Required = true };
        var results = new Option<string?>("--results") { Description = "explanations and scores: engine run/simulate output, or a {layer}/{neuron}.jsonl directory (NeuronSimulationResults)" };
        var related = new Option<string?>("--related") { Description = "engine related output (or OpenAI's related-tokens/weight-based {layer}/{neuron}.json)" };
        var connections = new Option<string?>("--connections") { Description = "engine connections output: each neuron page links its upstream and downstream neurons" };
        var ablation = new Option<string?>("--ablation") { Description = "engine ablate output: each neuron page shows what ablating it does to the output" };
        var outDir = CommonOptions.Out("the site's directory (open SITE/index.html in a browser)");
        var title = new Option<string?>("--title") { Description = "the site's title (default: from the records' model)" };
        var cmd = new Command("view", "build a static HTML neuron viewer: an index of layers and neurons, one page per neuron")
        {
            records, results, related, connections, ablation, outDir, title,
        };
        cmd.SetAction(r =>
        {
            var builder = new SiteBuilder(new SiteOptions
            {
                Records = r.GetValue(records)!, Results = r.GetValue(results), Related = r.GetValue(related), Connections = r.GetValue(connections), Ablation = r.GetValue(ablation), Out = r.GetValue(outDir)!, Title = r.GetValue(title),
            });
            var s = ConsoleProgress.Run("view", "neurons", p => builder.Build(p));
            string index = Path.GetFullPath(Path.Combine(r.GetValue(outDir)!, "index.html"));
            Console.Error.WriteLine($"view: {s.Neurons} neurons in {s.Layers} layer(s), {s.Explained} with explanations, {s.WithRelated} with related tokens" +
                (s.WithConnections is int linked ? $", {linked} with connections" : "") + ": " +
                $"{s.Files} files, {s.Bytes / 1e6:F1} MB in {s.Elapsed.TotalSeconds:F1} s");
            if (s.ResultFailures > 0)
                Console.Error.WriteLine($"view: {s.ResultFailures} results file(s) could not be read and were left out, e.g. {s.FirstResultFailure}");
            Console.WriteLine($"open file://{index}");
            return 0;
        });
        return cmd;
    }
}
