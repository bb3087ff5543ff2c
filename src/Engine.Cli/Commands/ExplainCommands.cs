using System.CommandLine;
using System.Text.Json;
using NeuronEngine.Explain;
using NeuronEngine.IO;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine explain`, `engine simulate` and `engine run` (docs/design.md §5–6): neuron records → explanations →
/// simulations → scores through any OpenAI-compatible endpoint. Exit codes: 0 done, 1 some neurons
/// failed (listed in failures.jsonl), 2 bad input or configuration, 3 a budget stopped the run (rerun
/// the same command to continue; cached calls are free), 130 cancelled (rerun to resume).
/// </summary>
public static class ExplainCommands
{
    public const int SomeNeuronsFailed = CommandRunner.SomeItemsFailed;
    public const int BudgetReached = CommandRunner.BudgetReached;
    public const string UsageFileName = "usage.json";

    /// <summary>Where `engine run` keeps the explain stage's files under its --out.</summary>
    public const string RunExplanationsFolder = "explainer";

    public static Command Explain()
    {
        var o = new LlmOptions();
        var cmd = new Command("explain", "explain neurons from their records through an OpenAI-compatible LLM: OUT/{layer}/{neuron}.json");
        foreach (var option in o.Common.Concat(o.ExplainerOnly).Concat(o.SubjectModelOptions)) cmd.Add(option);
        cmd.SetAction((r, ct) => Task.FromResult(Execute(o, r, ct, (runner, neurons, output) =>
        {
            var summary = ConsoleProgress.Run("explain", "neurons", p => runner.ExplainAsync(neurons, output, p, ct).GetAwaiter().GetResult());
            ExplainRunner.WriteFailures(Path.Combine(output, ExplainRunner.FailuresFileName), summary.Failures);
            Report("explain", summary, output);
            return [summary];
        })));
        return cmd;
    }

    public static Command Simulate()
    {
        var o = new LlmOptions();
        var explainerOutput = CommonOptions.ExplainerOutput();
        var oldName = CommonOptions.Deprecated<string>("--explanations"); // --explanations is what score reads: simulation results
        var cmd = new Command("simulate", "simulate and score explanations: OUT/explanations/{layer}/{neuron}.jsonl (OpenAI's NeuronSimulationResults) and OUT/scores.jsonl")
        {
            explainerOutput, oldName,
        };
        foreach (var option in o.Common.Concat(o.SimulatorOnly)) cmd.Add(option);
        cmd.Validators.Add(c =>
        {
            if (c.GetResult(explainerOutput) is null && c.GetResult(oldName) is null) c.AddError("--explainer-output is required");
        });
        o.SimulatorOnlyCommand = true;
        cmd.SetAction((r, ct) => Task.FromResult(Execute(o, r, ct, (runner, neurons, output) =>
        {
            string input = CommonOptions.ValueOrDeprecated(r, explainerOutput, oldName, "simulate")!;
            if (!Directory.Exists(input)) throw new DirectoryNotFoundException($"--explainer-output {input}: no such directory");
            var summary = ConsoleProgress.Run("simulate", "neurons", p => runner.SimulateAsync(neurons, input, output, p, ct).GetAwaiter().GetResult());
            Report("simulate", summary, output);
            return [summary];
        })));
        return cmd;
    }

    public static Command Run()
    {
        var o = new LlmOptions();
        var cmd = new Command("run", "records → explain → simulate → score: OUT/explainer/, OUT/explanations/ (OpenAI's layout), OUT/scores.jsonl");
        foreach (var option in o.Common.Concat(o.ExplainerOnly).Concat(o.SimulatorOnly).Concat(o.SubjectModelOptions)) cmd.Add(option);
        var ablation = new Option<bool>("--ablation") { Description = "after simulation, the ablation score (docs/ablation.md) with the subject model; needs --model" };
        var batch = CommonOptions.Batch();
        foreach (var option in new Option[] { ablation, batch }) cmd.Add(option);
        cmd.SetAction((r, ct) => Task.FromResult(Execute(o, r, ct, (runner, neurons, output) =>
        {
            // --model serves --revise (the probe texts) and --ablation (the ablation score) alike.
            using var ablationScoring = r.GetValue(ablation)
                ? ScoreCommand.AblationScoring.Open(r.GetValue(o.SubjectModel), r.GetValue(o.Device)!, CommonOptions.ParsePrecision(r.GetValue(o.Precision)!), r.GetValue(batch))
                : r.GetValue(o.SubjectModel) is not null && r.GetValue(o.Revise) == 0 ? throw new ArgumentException("--model is read with --revise or --ablation only") : null;
            string explained = Path.Combine(output, RunExplanationsFolder);
            var explain = ConsoleProgress.Run("explain", "neurons", p => runner.ExplainAsync(neurons, explained, p, ct).GetAwaiter().GetResult());
            Report("explain", explain, explained);
            if (explain.StoppedBy is not null)
            {
                ExplainRunner.WriteFailures(Path.Combine(output, ExplainRunner.FailuresFileName), explain.Failures);
                return [explain];
            }
            // A neuron the explainer failed on is reported once, not again as "no explanations file" (a failed revision
            // step keeps the neuron's explanations: it is simulated).
            var explainFailed = explain.Failures.Where(f => f.Stage != ExplainRunner.ReviseStage).Select(f => (f.Layer, f.Neuron)).ToHashSet();
            var toSimulate = neurons.Where(n => !explainFailed.Contains((n.Layer, n.Neuron))).ToArray();
            var simulate = ConsoleProgress.Run("simulate", "neurons", p => runner.SimulateAsync(toSimulate, explained, output, p, ct).GetAwaiter().GetResult());
            var failures = explain.Failures.Concat(simulate.Failures).ToList();
            Report("simulate", simulate, output);
            if (ablationScoring is not null && simulate.StoppedBy is null)
            {
                // The ablation score of every results file in OUT (this run's and earlier ones'), into the sidecars and scores.jsonl.
                string results = Path.Combine(output, ExplainRunner.ResultsFolderName);
                var scoreFailures = new List<ScoreFailure>();
                var lines = new ScoreRunner(SimulationScoring.HostScorer).ScoreLines(results, scoreFailures);
                lines = ConsoleProgress.Run("ablation", "records", p => ablationScoring.Run.Apply(results, results, lines, scoreFailures,
                    (done, total) => p.Report(new RunProgress(done, total)), ct));
                ScoresJsonl.Write(Path.Combine(output, ExplainRunner.ScoresFileName), lines);
                foreach (var f in scoreFailures.Where(f => f.Reason.StartsWith("--ablation", StringComparison.Ordinal)))
                    if (int.TryParse(Path.GetFileName(Path.GetDirectoryName(f.Path)), out int layer) && int.TryParse(Path.GetFileNameWithoutExtension(f.Path), out int neuron))
                        failures.Add(new NeuronFailure(layer, neuron, "ablation", f.Reason));
                Console.WriteLine($"ablation: {lines.Count(l => l.AblationScore is not null)} neurons with an ablation_score → {Path.Combine(output, ExplainRunner.ScoresFileName)}");
                simulate = simulate with { Failures = [.. simulate.Failures, .. failures.Where(f => f.Stage == "ablation")] };
            }
            ExplainRunner.WriteFailures(Path.Combine(output, ExplainRunner.FailuresFileName), failures);
            return [explain, simulate];
        })));
        return cmd;
    }

    private delegate StageSummary[] Stages(ExplainRunner runner, IReadOnlyList<NeuronFile> neurons, string output);

    private static int Execute(LlmOptions o, ParseResult r, CancellationToken ct, Stages stages)
    {
        var settings = o.Resolve(r);
        var neurons = settings.Selection.Apply(NeuronRecordFile.Enumerate(r.GetValue(o.Records)!));
        string output = r.GetValue(o.Out)!;
        Action<string> log = line => Console.Error.WriteLine(line);
        using var subject = settings.Run.Revise > 0 ? SubjectModel.Open(o, r) : null;
        using var cache = settings.CachePath is null ? null : new LlmCallCache(settings.CachePath);
        var usage = new LlmUsage(settings.Budget, settings.Prices);
        StageSummary[] summaries;
        using (var gateway = LlmGateway.ForOpenAiCompatible(settings.BaseUrl, LlmOptions.ApiKeyFromEnvironment(), cache, usage, settings.Resilience, log))
        {
            try
            {
                summaries = stages(new ExplainRunner(gateway, settings.Run) { Probe = subject?.Probe }, neurons, output);
            }
            catch (LlmEndpointException e)
            {
                throw new ArgumentException(e.Message);
            }
        }
        var report = usage.Report();
        WriteUsage(Path.Combine(output, UsageFileName), report, settings);
        Console.WriteLine($"usage: {report}" + (cache is null ? "" : $"; cache {cache.Path}"));
        if (summaries.FirstOrDefault(s => s.StoppedBy is not null) is { } stopped)
        {
            Console.Error.WriteLine($"stopped: {stopped.StoppedBy}; rerun the same command to continue (calls already made are cached and free)");
            return BudgetReached;
        }
        return summaries.Any(s => s.Failures.Any(f => f.Stage != "sequence")) ? SomeNeuronsFailed : CommandRunner.Done;
    }

    /// <summary>
    /// The subject model of `--revise`: its weights on the `--device`, behind an <see cref="ActivationProbe"/>. It must be
    /// the model the records came from: refused when its fingerprint differs from the one in the records' records.json.
    /// </summary>
    private sealed class SubjectModel : IDisposable
    {
        private readonly Model.Gpt2Weights _weights;
        private readonly Forward.IForwardDevice _device;
        public SubjectModelProbe Probe { get; }

        private SubjectModel(Model.Gpt2Weights weights, Forward.IForwardDevice device)
        {
            _weights = weights; _device = device;
            Probe = new SubjectModelProbe(new Probe.ActivationProbe(device, weights.Config));
        }

        public static SubjectModel Open(LlmOptions o, ParseResult r)
        {
            string? model = r.GetValue(o.SubjectModel), preset = r.GetValue(o.SubjectPreset);
            if (model is null && preset is null)
                throw new ArgumentException("--revise needs the subject model the records came from: give --model M (or --preset P for synthetic weights)");
            string records = r.GetValue(o.Records)!;
            var manifest = RecordsManifest.TryLoad(records);
            string device = r.GetValue(o.Device)!;
            var (path, name) = ModelSource.Resolve(model, preset, r.GetValue(o.SubjectModelSeed), beforeWriting: _ => Runtime.DeviceSelection.RequireAvailable(device));
            var weights = Model.Gpt2Weights.Open(path);
            try
            {
                string fingerprint = Fingerprint.OfFile(weights.File.Path);
                if (manifest is null)
                    Console.Error.WriteLine($"warning: {records} has no {RecordsManifest.FileName}, so --model {name} cannot be checked against the records' model");
                else if (manifest.Settings.ModelFingerprint != fingerprint)
                    throw new ArgumentException($"--model {name} (fingerprint {fingerprint}) is not the model the records came from: "
                        + $"{RecordsManifest.PathIn(records)} names {manifest.Settings.Model} (fingerprint {manifest.Settings.ModelFingerprint})");
                return new SubjectModel(weights, Runtime.DeviceCatalog.Create(device, weights, CommonOptions.ParsePrecision(r.GetValue(o.Precision)!)));
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

    private static void Report(string stage, StageSummary s, string output)
    {
        var neuronFailures = s.Failures.Where(f => f.Stage != "sequence").ToArray();
        int sequenceFailures = s.Failures.Count - neuronFailures.Length;
        Console.WriteLine($"{stage}: {s.Selected} neurons: {s.Completed} done now, {s.AlreadyDone} already done, {neuronFailures.Length} failed"
            + (sequenceFailures > 0 ? $", {sequenceFailures} sequence(s) failed to simulate" : "") + $" → {output}");
        if (stage == "simulate" && File.Exists(Path.Combine(output, ExplainRunner.ScoresFileName)))
        {
            var scores = File.ReadLines(Path.Combine(output, ExplainRunner.ScoresFileName))
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("ev_correlation_score"))
                .Where(e => e.ValueKind == JsonValueKind.Number).Select(e => e.GetDouble()).ToArray();
            if (scores.Length > 0)
                Console.WriteLine($"scores: {scores.Length} neurons with a defined ev_correlation_score, mean {scores.Average():F4} → {Path.Combine(output, ExplainRunner.ScoresFileName)}");
        }
        foreach (var f in s.Failures.Take(10)) Console.Error.WriteLine($"  layer {f.Layer} neuron {f.Neuron} ({f.Stage}): {f.Reason}");
        if (s.Failures.Count > 10) Console.Error.WriteLine($"  … {s.Failures.Count - 10} more in {ExplainRunner.FailuresFileName}");
    }

    /// <summary>OUT/usage.json: what this invocation spent (never the key: it is not in the settings).</summary>
    private static void WriteUsage(string path, LlmUsageReport u, LlmCommandSettings settings) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["endpoint"] = settings.BaseUrl,
            ["explainer_model"] = settings.Run.ExplainerModel,
            ["simulator_model"] = settings.Run.SimulatorModel,
            ["simulator_mode"] = settings.Run.SimulatorMode.ToString().ToLowerInvariant(),
            ["calibration"] = settings.Run.Calibrate,
            ["calls"] = u.Calls,
            ["cache_hits"] = u.CacheHits,
            ["shared_in_flight"] = u.SharedInFlight,
            ["retries"] = u.Retries,
            ["input_tokens"] = u.InputTokens,
            ["output_tokens"] = u.OutputTokens,
            ["estimated_cost_usd"] = u.EstimatedCostUsd,
        }, new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
