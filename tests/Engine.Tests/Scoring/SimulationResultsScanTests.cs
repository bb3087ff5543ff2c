using System.Text;
using NeuronEngine.OpenAi;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Scoring;

/// <summary>
/// The direct scan of `engine score` (no rescored copies): it reads the same values as the typed reader, accepts
/// nothing the typed reader refuses, and the scores.jsonl it gives is byte for byte the object path's.
/// </summary>
public sealed class SimulationResultsScanTests
{
    private static SimulationResultsScan Scan(string line, out bool accepted)
    {
        var scan = new SimulationResultsScan();
        accepted = scan.TryScan(Encoding.UTF8.GetBytes(line));
        return scan;
    }

    [Fact]
    public void ReadsOpenAisLineIntoTheFirstExplanationsValues()
    {
        using var scan = Scan(SimulationResultsFixtures.OpenAiStyleLine, out bool accepted);
        Assert.True(accepted);
        Assert.Equal((3, 17, 1), (scan.Layer, scan.Neuron, scan.ExplanationCount));
        Assert.Equal(" the word \"café\" and ☕", scan.FirstExplanation);
        Assert.Equal([3], scan.SequenceLengths);
        Assert.Equal([0.0, 0.5, 2.0], scan.TrueActivations[..3]);
        Assert.Equal([0.0, 1.25, double.NaN], scan.ExpectedActivations[..3]); // null is NaN, as the typed reader reads it
        Assert.Equal(3, scan.ExplanationTokens(0, out int top));
        Assert.Equal(3, top); // one sequence: the middle one counts as top
        Assert.True(scan.Verbatim); // every field of OpenAI's dataclasses, nothing else
    }

    [Fact]
    public void KeysInAnyOrderAndUnknownKeysAreReadAsTheTypedReaderReadsThem()
    {
        // true_activations before the simulation, an unknown key with a nested value, the neuron id last.
        string line = """{"scored_explanations":[{"scored_simulation":{"scored_sequence_simulations":[{"true_activations":[1,2],"extra":{"a":[1,{"b":null}]},"simulation":{"expected_activations":[3,4.5],"tokens":["a","\ud83d"]}},{"simulation":{"tokens":["c"],"expected_activations":[7]},"true_activations":[-1e-3]}]},"explanation":"x"},{"explanation":"second","scored_simulation":{"scored_sequence_simulations":[]}}],"neuron_id":{"neuron_index":9,"layer_index":4}}""";
        var typed = SimulationResultsFile.Deserialize(line);
        using var scan = Scan(line, out bool accepted);
        Assert.True(accepted);
        Assert.Equal((typed.NeuronId.LayerIndex, typed.NeuronId.NeuronIndex), (scan.Layer, scan.Neuron));
        Assert.Equal(2, scan.ExplanationCount);
        Assert.Equal([2, 1], scan.SequenceLengths);
        var sequences = typed.ScoredExplanations[0].ScoredSimulation.ScoredSequenceSimulations;
        Assert.Equal(sequences.SelectMany(s => s.TrueActivations), scan.TrueActivations[..scan.TokenCount]);
        Assert.Equal(sequences.SelectMany(s => s.Simulation.ExpectedActivations), scan.ExpectedActivations[..scan.TokenCount]);
        Assert.Equal(3, scan.ExplanationTokens(0, out int top));
        Assert.Equal(2, top);
        Assert.False(scan.Verbatim); // an unknown key, and fields missing
    }

    [Theory]
    [InlineData("\"neuron_index\":17", "\"neuron_index\":17,\"neuron_index\":17")] // duplicate key
    [InlineData(",\"true_activations\":[0.0,0.5,2.0]", "")] // missing required field
    [InlineData("\"true_activations\":[0.0,0.5,2.0]", "\"true_activations\":[0.0,0.5]")] // unequal lengths
    [InlineData("\"tokens\":[\"A\",\" caf\",\"é\"]", "\"tokens\":null")] // null where the typed reader wants a list
    [InlineData("\"neuron_index\":17", "\"neuron_index\":17.0")] // not an int
    [InlineData("\"distribution_values\":[[0,1]", "\"distribution_values\":[[\"0\",1]")] // a string among the numbers
    [InlineData("\"uncalibrated_simulation\":null", "\"uncalibrated_simulation\":{\"tokens\":[]}")] // incomplete nested simulation
    [InlineData("\"explanation\":\" the word", "\"explanation\":\"\\ud83d the word")] // an explanation with a lone surrogate
    [InlineData("\"rsquared_score\":0.5", "\"rsquared_score\":\"0.5\"")]
    [InlineData("{\"dataclass_name\":\"NeuronSimulationResults\",", "{\"dataclass_name\":\"NeuronSimulationResults\",\n")] // two lines
    public void LeavesAnythingUnusualToTheTypedReader(string find, string replace)
    {
        Assert.Contains(find, SimulationResultsFixtures.OpenAiStyleLine);
        using var scan = Scan(SimulationResultsFixtures.OpenAiStyleLine.Replace(find, replace), out bool accepted);
        Assert.False(accepted);
    }

    [Fact]
    public void AcceptsNothingTheTypedReaderRefuses()
    {
        // Every one-byte deletion and a set of one-byte replacements of OpenAI's line: whenever the scan accepts the
        // result, the typed reader must accept it too and read the same first explanation.
        using var temp = new TempDir();
        string path = temp["0.jsonl"];
        byte[] original = Encoding.UTF8.GetBytes(SimulationResultsFixtures.OpenAiStyleLine);
        var random = new Random(26);
        byte[] replacements = "0123456789-.eE,:[]{}\"n \\\n"u8.ToArray();
        int accepted = 0, tried = 0;
        for (int at = 0; at < original.Length; at++)
        {
            byte[] deleted = [.. original[..at], .. original[(at + 1)..]];
            var variants = new List<byte[]> { deleted };
            for (int k = 0; k < 2; k++)
            {
                var replaced = (byte[])original.Clone();
                replaced[at] = replacements[random.Next(replacements.Length)];
                variants.Add(replaced);
            }
            foreach (var bytes in variants)
            {
                tried++;
                using var scan = new SimulationResultsScan();
                if (!scan.TryScan(bytes)) continue;
                accepted++;
                File.WriteAllBytes(path, bytes);
                var typed = SimulationResultsFile.Read(path);
                Assert.True(typed.Succeeded, $"scan accepted what the typed reader refuses ({typed.FailureReason}): {Encoding.UTF8.GetString(bytes)}");
                var first = typed.Results!.ScoredExplanations[0];
                Assert.Equal(first.Explanation, scan.FirstExplanation);
                Assert.Equal(first.ScoredSimulation.ScoredSequenceSimulations.SelectMany(s => s.TrueActivations), scan.TrueActivations[..scan.TokenCount]);
                Assert.Equal(first.ScoredSimulation.ScoredSequenceSimulations.SelectMany(s => s.Simulation.ExpectedActivations),
                    scan.ExpectedActivations[..scan.TokenCount]);
            }
        }
        Assert.InRange(accepted, 20, tried - 100); // both sides exercised: some variants still parse, most do not
    }

    [Fact]
    public void ScoresJsonlOfTheScanIsTheObjectPathsByteForByte()
    {
        using var temp = new TempDir();
        string input = temp["in"];
        var random = new Random(7);
        for (int neuron = 0; neuron < 40; neuron++)
        {
            int sequences = 1 + random.Next(11); // odd and even counts: the middle sequence counts as top
            var scored = Enumerable.Range(0, sequences).Select(_ =>
            {
                int tokens = random.Next(0, 9);
                double[] t = Enumerable.Range(0, tokens).Select(_ => random.NextDouble() < 0.3 ? random.NextDouble() * 3 : -random.NextDouble() * 0.17).ToArray();
                double[] p = Enumerable.Range(0, tokens).Select(_ => (double)random.Next(11) / (1 + random.Next(3))).ToArray();
                if (tokens > 0 && random.Next(10) == 0) p[0] = double.NaN; // written as null
                return SimulationResultsFixtures.Sequence(t, p);
            }).ToArray();
            var results = SimulationResultsFixtures.Neuron(neuron % 3, neuron, $" explanation {neuron} – ünïcode", scored);
            if (neuron % 5 == 0)
                results = results with { ScoredExplanations = [.. results.ScoredExplanations, results.ScoredExplanations[0] with { Explanation = "another" }] };
            SimulationResultsFile.Write(SimulationResultsFile.PathFor(input, neuron % 3, neuron), results);
        }
        // Files only the object path can read or refuse: a pretty-printed one, one whose neuron_id is not its place, a
        // sidecar-less file with no explanations, one with a BOM, and a malformed one.
        string pretty = SimulationResultsFile.Serialize(SimulationResultsFixtures.HandCheckable(1, 100)).Replace(",\"scored_explanations\"", ",\n\"scored_explanations\"");
        File.WriteAllText(SimulationResultsFile.PathFor(input, 1, 100), pretty + "\n");
        SimulationResultsFile.Write(SimulationResultsFile.PathFor(input, 1, 101), SimulationResultsFixtures.HandCheckable(1, 5));
        SimulationResultsFile.Write(SimulationResultsFile.PathFor(input, 1, 102), SimulationResultsFixtures.HandCheckable(1, 102) with { ScoredExplanations = [] });
        File.WriteAllBytes(SimulationResultsFile.PathFor(input, 1, 103),
            [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(SimulationResultsFile.Serialize(SimulationResultsFixtures.HandCheckable(1, 103)) + "\n")]);
        File.WriteAllText(SimulationResultsFile.PathFor(input, 1, 104), "{\"neuron_id\":\n");

        var viaObjects = new ScoreRunner(new CpuBatchScorer(), new ScoreRunOptions { WriteResults = true, FilesPerChunk = 7 }).Run(input, temp["objects"]);
        var viaScan = new ScoreRunner(new CpuBatchScorer(), new ScoreRunOptions { WriteResults = false, FilesPerChunk = 5 }).Run(input, temp["scan"]);

        Assert.Equal(41, viaScan.NeuronCount); // the 40, and the one with a BOM (File.ReadAllText drops it)
        Assert.Equal(File.ReadAllBytes(Path.Combine(temp["objects"], "scores.jsonl")), File.ReadAllBytes(Path.Combine(temp["scan"], "scores.jsonl")));
        Assert.Equal(viaObjects.Failures, viaScan.Failures);
        Assert.Equal(4, viaScan.Failures.Count); // two lines, neuron_id elsewhere, no explanations, malformed
        Assert.Equal(viaObjects.Scores, viaScan.Scores);
        Assert.Equal(viaObjects.LayerMeans, viaScan.LayerMeans);
        Assert.False(Directory.Exists(Path.Combine(temp["scan"], "explanations")));
    }

    [Fact]
    public void RescoredCopiesAreWhatTheObjectPathWrites()
    {
        using var temp = new TempDir();
        string input = temp["in"];
        var random = new Random(11);
        var written = new List<NeuronSimulationResults>();
        for (int neuron = 0; neuron < 12; neuron++)
        {
            var scored = Enumerable.Range(0, 1 + random.Next(6)).Select(_ =>
            {
                int tokens = random.Next(0, 6);
                return SimulationResultsFixtures.Sequence(
                    Enumerable.Range(0, tokens).Select(_ => random.NextDouble() * 2 - 0.2).ToArray(),
                    Enumerable.Range(0, tokens).Select(_ => (double)random.Next(11)).ToArray());
            }).ToArray();
            var results = SimulationResultsFixtures.Neuron(0, neuron, $" e{neuron}", scored);
            if (neuron % 3 == 0) // several explanations: each scored on its own sequences
                results = results with { ScoredExplanations = [.. results.ScoredExplanations, results.ScoredExplanations[0] with { Explanation = "two" }] };
            SimulationResultsFile.Write(SimulationResultsFile.PathFor(input, 0, neuron), results);
            written.Add(results);
        }
        // OpenAI's own spelling (Python floats, exponents) for one more file: the copy keeps its bytes but the scores.
        File.WriteAllText(SimulationResultsFile.PathFor(input, 0, 12), SimulationResultsFixtures.OpenAiStyleLine.Replace("\"neuron_index\":17", "\"neuron_index\":12").Replace("\"layer_index\":3", "\"layer_index\":0") + "\n");

        var summary = new ScoreRunner(new CpuBatchScorer(), new ScoreRunOptions { WriteResults = true, FilesPerChunk = 5 }).Run(input, temp["out"]);
        Assert.Empty(summary.Failures);

        for (int neuron = 0; neuron < 12; neuron++)
        {
            // The object path, independently: OpenAI's records rescored by NeuronRescoring and written by the typed writer.
            var (expected, _) = SimulationScoring.Rescore(written[neuron], null);
            Assert.Equal(SimulationResultsFile.Serialize(expected) + "\n",
                File.ReadAllText(SimulationResultsFile.PathFor(temp["out/explanations"], 0, neuron)));
        }
        var python = SimulationResultsFile.Read(SimulationResultsFile.PathFor(input, 0, 12)).Results!;
        var copy = SimulationResultsFile.Read(SimulationResultsFile.PathFor(temp["out/explanations"], 0, 12)).Results!;
        Assert.Equal(SimulationResultsFile.Serialize(SimulationScoring.Rescore(python, null).Rescored), SimulationResultsFile.Serialize(copy));
        // Everything but the scores is the input's bytes (Python writes 0.0 where the typed writer writes 0).
        string copied = File.ReadAllText(SimulationResultsFile.PathFor(temp["out/explanations"], 0, 12));
        Assert.Contains("\"expected_activations\":[0.0,1.25,null]", copied);
        OpenAiStrictLoader.LoadResultsFile(SimulationResultsFile.PathFor(temp["out/explanations"], 0, 12));
    }
}
