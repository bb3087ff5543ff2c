using System.CommandLine;
using System.Text.Json;
using NeuronEngine.Runtime.Scoring;
using NeuronEngine.Dump;
using NeuronEngine.IO;
using NeuronEngine.Runtime;
using NeuronEngine.Cli.Reporting;
using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine score --explanations DIR --out OUT`: re-scores precomputed simulations in OpenAI's layout
/// (docs/design.md §5–6): OUT/scores.jsonl, OUT/failures.jsonl for files that could not be scored,
/// OUT/score-histogram.png, a summary on the terminal, and with --write-results the rescored files under
/// OUT/explanations/.
/// </summary>
public static class ScoreCommand
{
    public const string HistogramFileName = "score-histogram.png";
    public const string FailuresFileName = "failures.jsonl";

    public static Command Create()
    {
        var explanations = CommonOptions.Explanations();
        var outDir = CommonOptions.Out();
        var device = CommonOptions.Device();
        var writeResults = new Option<bool>("--write-results")
        {
            Description = "also write a rescored copy of every file (and its sidecar) under OUT/explanations (off: scores.jsonl only)",
        };
        var ablation = new Option<bool>("--ablation") { Description = "also the ablation score (docs/ablation.md): the subject model run with the simulated activations in place of the real ones; needs --model" };
        var model = CommonOptions.Model();
        var precision = CommonOptions.Precision();
        var batch = CommonOptions.Batch();
        var cmd = new Command("score", "re-score simulations (OpenAI's NeuronSimulationResults layout) and summarise the scores")
        {
            explanations, outDir, device, writeResults, ablation, model, precision, batch,
        };
        cmd.SetAction((r, ct) => Task.FromResult(Execute(r, ct)));
        int Execute(ParseResult r, CancellationToken ct)
        {
            string input = r.GetValue(explanations)!, output = r.GetValue(outDir)!;
            if (!Directory.Exists(input))
                throw new DirectoryNotFoundException(File.Exists(input) ? $"--explanations {input} is a file, not a directory" : $"--explanations {input}: no such directory");
            using var ablationScoring = r.GetValue(ablation) ? AblationScoring.Open(r.GetValue(model), r.GetValue(device)!, CommonOptions.ParsePrecision(r.GetValue(precision)!), r.GetValue(batch))
                : r.GetValue(model) is not null ? throw new ArgumentException("--model is read with --ablation only") : null;
            using var scorer = ScorerCatalog.Create(r.GetValue(device)!);
            var summary = ConsoleProgress.Run("score", "files", p =>
                new ScoreRunner(scorer.Scorer, new ScoreRunOptions { WriteResults = r.GetValue(writeResults) }).Run(input, output,
                    new Progress<ScoreRunProgress>(s => p.Report(new RunProgress(s.FilesDone, s.FilesTotal))), ct, ablationScoring?.Run));
            string failuresPath = Path.Combine(output, FailuresFileName);
            WriteFailures(failuresPath, summary.Failures);
            if (summary.NeuronCount == 0 && summary.Failures.Count > 0)
            {
                // Nothing scored at all: the input is not simulation results (bad input), said in one line.
                var f = summary.Failures[0];
                throw new InvalidDataException(summary.Failures.Count == 1 && f.Path == input
                    ? $"--explanations {input}: {f.Reason}"
                    : $"--explanations {input}: none of the {summary.Failures.Count} file(s) could be scored (first: {f.Path}: {f.Reason}); all are listed in {failuresPath}");
            }
            string histogram = Path.Combine(output, HistogramFileName);
            ScoreHistogram.WritePng(summary.Scores, histogram);
            PrintSummary(summary, scorer.Name, histogram);
            // Some files failed: exit code 1, as run does (they are listed in failures.jsonl).
            return summary.Failures.Count == 0 ? CommandRunner.Done : CommandRunner.SomeItemsFailed;
        }
        return cmd;
    }

    /// <summary>The subject model and forward device of `--ablation`, opened once (the caller disposes them).</summary>
    internal sealed class AblationScoring : IDisposable
    {
        private readonly NeuronEngine.Model.Gpt2Weights _weights;
        private readonly NeuronEngine.Forward.IForwardDevice _device;
        public AblationScoreRun Run { get; }

        private AblationScoring(NeuronEngine.Model.Gpt2Weights weights, NeuronEngine.Forward.IForwardDevice device, string name, int? batch)
        {
            _weights = weights; _device = device;
            Run = new AblationScoreRun(new AblationScorer(device, weights.Config.VocabSize), weights.Config, name, batch ?? device.DefaultBatchWindows);
        }

        public static AblationScoring Open(string? model, string device, NeuronEngine.Forward.MatMulPrecision precision, int? batch)
        {
            if (model is null) throw new ArgumentException("--ablation needs --model: the subject model whose neurons the results explain");
            var (path, name) = ModelSource.Resolve(model, null, 0);
            var weights = NeuronEngine.Model.Gpt2Weights.Open(path);
            try
            {
                return new AblationScoring(weights, DeviceCatalog.Create(device, weights, precision), name, batch);
            }
            catch
            {
                weights.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            _device.Dispose();
            _weights.Dispose();
        }
    }

    private static void WriteFailures(string path, IReadOnlyList<ScoreFailure> failures) =>
        AtomicFile.WriteAllText(path, string.Concat(failures.Select(f =>
            JsonSerializer.Serialize(new { path = f.Path, reason = f.Reason }) + "\n")));

    private static void PrintSummary(ScoreRunSummary s, string device, string histogram)
    {
        static string F(double? v) => v is double d ? d.ToString("F4") : "n/a";
        Console.WriteLine($"scored {s.NeuronCount} neurons on {device} ({s.DefinedScoreCount} with a defined score) → {s.ScoresPath}");
        Console.WriteLine($"ev_correlation_score: mean {F(s.MeanScore)}, median {F(s.MedianScore)}, ≥ 0.8: {s.ScoresAtLeast0Point8}");
        foreach (var l in s.LayerMeans) Console.WriteLine($"  layer {l.Layer,3}: {l.NeuronCount,7} neurons, mean {F(l.MeanScore)}");
        Console.WriteLine($"histogram: {histogram}");
        if (s.Failures.Count == 0) return;
        Console.Error.WriteLine($"{s.Failures.Count} file(s) could not be scored (all listed in {FailuresFileName}):");
        foreach (var f in s.Failures.Take(10)) Console.Error.WriteLine($"  {f.Path}: {f.Reason}");
    }
}
