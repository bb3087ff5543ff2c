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
        var cmd = new Command("score", "re-score simulations (OpenAI's NeuronSimulationResults layout) and summarise the scores")
        {
            explanations, outDir, device, writeResults,
        };
        cmd.SetAction((r, ct) => Task.FromResult(Execute(r, ct)));
        int Execute(ParseResult r, CancellationToken ct)
        {
            string input = r.GetValue(explanations)!, output = r.GetValue(outDir)!;
            if (!Directory.Exists(input))
                throw new DirectoryNotFoundException(File.Exists(input) ? $"--explanations {input} is a file, not a directory" : $"--explanations {input}: no such directory");
            using var scorer = ScorerCatalog.Create(r.GetValue(device)!);
            var summary = ConsoleProgress.Run("score", "files", p =>
                new ScoreRunner(scorer.Scorer, new ScoreRunOptions { WriteResults = r.GetValue(writeResults) }).Run(input, output, new Progress<ScoreRunProgress>(s => p.Report(new RunProgress(s.FilesDone, s.FilesTotal))), ct));
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
