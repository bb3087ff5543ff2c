using NeuronEngine.Model;
using NeuronEngine.OpenAi;
using NeuronEngine.Records;
using NeuronEngine.Text;

namespace NeuronEngine.Scoring;

/// <summary>
/// `score --ablation` / `run --ablation`: the ablation score of every scored explanation of a results directory (its
/// valid-split scored sequences, the simulations calibrated as the results' calibrated scores are), written into the
/// sidecars (ablation_score per explanation) and returned for scores.jsonl (the first explanation's, as the other columns).
/// </summary>
public sealed class AblationScoreRun(AblationScorer scorer, Gpt2Config config, string modelName, int itemsPerBatch)
{
    /// <summary>
    /// Adds ablation_score to <paramref name="lines"/> from the results files under <paramref name="explanationsDirectory"/>
    /// and their sidecars; the sidecars with the scores are written under <paramref name="sidecarDirectory"/> when given. A neuron that cannot be scored this way becomes a failure.
    /// Bad input for the whole run throws: a model whose shape does not hold the results' neurons, results without
    /// calibration simulations.
    /// </summary>
    public IReadOnlyList<NeuronScoreLine> Apply(string explanationsDirectory, string? sidecarDirectory, IReadOnlyList<NeuronScoreLine> lines, ICollection<ScoreFailure> failures,
        Action<int, int>? progress = null, CancellationToken cancel = default)
    {
        var ids = TokenIds.For(config.VocabSize);
        var neurons = new List<(NeuronFile File, NeuronSimulationResults Results, SimulationSidecar Sidecar, List<(int Explanation, int Item)> Items)>();
        var items = new List<AblationItem>();
        foreach (var line in lines)
        {
            string path = SimulationResultsFile.PathFor(explanationsDirectory, line.Layer, line.Neuron);
            if (line.Layer >= config.NLayer || line.Neuron >= config.DMlp)
                throw new ArgumentException($"--model {modelName} has {config.NLayer} layers × {config.DMlp} neurons, but {path} is layer {line.Layer} neuron {line.Neuron}: the results come from a model of another shape");
            var results = SimulationResultsFile.Read(path).Results ?? throw new InvalidDataException($"{path}: cannot be read back");
            var sidecar = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathBeside(path));
            var calibrations = sidecar?.ScoredExplanations.Select(e => e.CalibrationSequences).ToArray();
            if (sidecar is null || calibrations!.Any(c => c is null or { Length: 0 }))
                throw new InvalidDataException($"{path}: no calibration simulations (the sidecar's calibration_sequences); --ablation maps simulations to activations with the results' calibration and does not guess a scale");
            var mine = new List<(int, int)>();
            string? failure = null;
            for (int e = 0; e < results.ScoredExplanations.Length && failure is null; e++)
            {
                var side = sidecar.ScoredExplanations[e];
                var (calTrue, calExpected) = SequenceActivations.Concatenate(side.CalibrationSequences!.Select(c => new SequenceActivations(c.TrueActivations, c.ExpectedActivations)));
                if (LinearCalibration.Fit(calTrue, calExpected) is not { } fit)
                    throw new InvalidDataException($"{path}: explanation {e}'s calibration simulations give no finite linear fit; --ablation does not guess a scale");
                var sequences = results.ScoredExplanations[e].ScoredSimulation.ScoredSequenceSimulations;
                float mean = (float)NeuronMean(sequences, side);
                for (int s = 0; s < sequences.Length && failure is null; s++)
                {
                    var seq = sequences[s];
                    if (seq.TrueActivations is not { Length: > 0 } || seq.TrueActivations.Length != seq.Simulation.Tokens.Length)
                    {
                        failure = $"scored sequence {s} has no true activations";
                        break;
                    }
                    if (seq.Simulation.Tokens.Length > config.NPositions)
                        throw new ArgumentException($"--model {modelName} takes windows of at most {config.NPositions} tokens, but {path} has a sequence of {seq.Simulation.Tokens.Length}");
                    var tokenIds = new int[seq.Simulation.Tokens.Length];
                    for (int t = 0; t < tokenIds.Length && failure is null; t++)
                        if (!ids.TryGet(seq.Simulation.Tokens[t], out tokenIds[t]))
                            failure = $"scored sequence {s}: token '{seq.Simulation.Tokens[t]}' is not the display form of exactly one vocabulary id, so the window cannot be rebuilt";
                    var simulated = seq.Simulation.ExpectedActivations.Select(v => (float)fit.Apply(v)).ToArray();
                    mine.Add((e, items.Count));
                    items.Add(new AblationItem(line.Layer, line.Neuron, tokenIds, simulated, mean));
                }
            }
            if (failure is not null)
            {
                failures.Add(new ScoreFailure(path, $"--ablation: {failure}"));
                items.RemoveRange(items.Count - mine.Count, mine.Count);
                continue;
            }
            neurons.Add((new NeuronFile(line.Layer, line.Neuron, path), results, sidecar, mine));
        }
        int done = 0;
        var sums = scorer.Measure(items, itemsPerBatch, n => progress?.Invoke(done += n, items.Count), cancel);
        var scored = new Dictionary<(int, int), double?>();
        foreach (var (file, results, sidecar, mine) in neurons)
        {
            var perExplanation = Enumerable.Range(0, results.ScoredExplanations.Length)
                .Select(e => AblationScorer.Score(mine.Where(m => m.Explanation == e).Select(m => sums[m.Item]))).ToArray();
            var updated = sidecar with
            {
                ScoredExplanations = sidecar.ScoredExplanations.Select((x, e) => x with { AblationScore = perExplanation[e] }).ToArray(),
            };
            if (sidecarDirectory is not null) SimulationSidecarFile.Write(SimulationSidecarFile.PathFor(sidecarDirectory, file.Layer, file.Neuron), updated);
            scored[(file.Layer, file.Neuron)] = perExplanation.Length > 0 ? perExplanation[0] : null;
        }
        return lines.Where(l => scored.ContainsKey((l.Layer, l.Neuron)))
            .Select(l => l with { WithAblationScore = true, AblationScore = scored[(l.Layer, l.Neuron)] }).ToList();
    }

    /// <summary>
    /// The mean-ablation value: the neuron's mean true activation over the random records the file holds (scored and
    /// calibration; random records sample windows uniformly, so this estimates the mean over the corpus), or over all
    /// its sequences when it has no random ones.
    /// </summary>
    internal static double NeuronMean(ScoredSequenceSimulation[] sequences, ExplanationSidecar side)
    {
        var random = new List<double>();
        var all = new List<double>();
        for (int s = 0; s < sequences.Length; s++)
        {
            all.AddRange(sequences[s].TrueActivations);
            if (s < side.Sequences.Length && side.Sequences[s].Source == RecordSource.Random) random.AddRange(sequences[s].TrueActivations);
        }
        foreach (var c in side.CalibrationSequences ?? [])
        {
            all.AddRange(c.TrueActivations);
            if (c.Source == RecordSource.Random) random.AddRange(c.TrueActivations);
        }
        var chosen = random.Count > 0 ? random : all;
        return chosen.Count == 0 ? 0 : chosen.Average();
    }
}

/// <summary>Token strings as records and results show them (the tokenizer's display form) back to vocabulary ids, where unambiguous.</summary>
internal sealed class TokenIds
{
    private readonly Dictionary<string, int> _ids = [];

    public static TokenIds For(int vocab)
    {
        var tokenizer = Gpt2Tokenizer.Load();
        var map = new TokenIds();
        for (int id = 0; id < Math.Min(vocab, Gpt2Tokenizer.VocabSize); id++)
        {
            string s = tokenizer.DisplayToken(id);
            map._ids[s] = map._ids.ContainsKey(s) ? -1 : id;   // −1: several ids display alike
        }
        return map;
    }

    public bool TryGet(string token, out int id) => _ids.TryGetValue(token, out id) && id >= 0;
}
