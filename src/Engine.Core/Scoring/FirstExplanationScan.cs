using System.Buffers;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Scoring;

/// <summary>
/// The direct path of `engine score` for a scores.jsonl line: a results file without a sidecar is read into a pooled
/// buffer, scanned (<see cref="SimulationResultsScan"/>) into its first explanation's values, and a chunk's scans are
/// scored as one <see cref="ScoringBatch"/> (one neuron per file: its top sequences then its random ones, OpenAI's
/// layout) on the run's <see cref="IBatchScorer"/>. The line is the one the object path writes for the same file
/// (<see cref="NeuronRescoring.Apply"/>): the same doubles, the same neuron slot layout, no calibration without a sidecar.
/// </summary>
internal static class FirstExplanationScan
{
    /// <summary>
    /// The file scanned, or null when it needs the object path: it has a sidecar, cannot be opened, or is anything
    /// but the plain case (the object path then gives the failure its usual reason), or its neuron_id is not its place.
    /// </summary>
    public static SimulationResultsScan? TryRead(NeuronFile file)
    {
        if (File.Exists(SimulationSidecarFile.PathBeside(file.Path))) return null;
        byte[]? buffer = null;
        var scan = new SimulationResultsScan();
        try
        {
            using var handle = File.OpenHandle(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            long length = RandomAccess.GetLength(handle);
            if (length >= Array.MaxLength / 2) return Reject(scan);
            // One byte more than the file: a file that grew since GetLength fills it, and is left to the object path.
            buffer = ArrayPool<byte>.Shared.Rent((int)length + 1);
            int read = 0, n;
            while (read < buffer.Length && (n = RandomAccess.Read(handle, buffer.AsSpan(read), read)) > 0) read += n;
            if (read == buffer.Length) return Reject(scan);
            if (!scan.TryScan(buffer.AsSpan(0, read)) || scan.ExplanationCount == 0
                || scan.Layer != file.Layer || scan.Neuron != file.Neuron) return Reject(scan);
            return scan;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Reject(scan);
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static SimulationResultsScan? Reject(SimulationResultsScan scan)
    {
        scan.Dispose();
        return null;
    }

    /// <summary>Scores of a chunk's scans: neuron k of the batch is the k-th non-null scan.</summary>
    public readonly record struct Scores(ScoreTriple[] Results, int[] NeuronOf);

    /// <summary>Scores every scan's first explanation in one batch (all three variants).</summary>
    public static Scores Score(IReadOnlyList<SimulationResultsScan?> scans, IBatchScorer scorer)
    {
        var neuronOf = new int[scans.Count];
        int neurons = 0;
        long tokens = 0;
        for (int i = 0; i < scans.Count; i++)
        {
            neuronOf[i] = -1;
            if (scans[i] is not { } scan) continue;
            neuronOf[i] = neurons++;
            tokens += scan.TokenCount;
        }
        if (neurons == 0) return new Scores([], neuronOf);
        var trueValues = new double[tokens];
        var expectedValues = new double[tokens];
        var offsets = new int[neurons + 1];
        var topTokens = new int[neurons];
        int neuron = 0;
        foreach (var scan in scans)
        {
            if (scan is null) continue;
            int start = offsets[neuron];
            scan.TrueActivations.AsSpan(0, scan.TokenCount).CopyTo(trueValues.AsSpan(start));
            scan.ExpectedActivations.AsSpan(0, scan.TokenCount).CopyTo(expectedValues.AsSpan(start));
            topTokens[neuron] = scan.TopTokenCount;
            offsets[++neuron] = start + scan.TokenCount;
        }
        return new Scores(scorer.Score(new ScoringBatch(trueValues, expectedValues, offsets, topTokens)), neuronOf);
    }

    /// <summary>The scores.jsonl line of scan <paramref name="index"/> (as <see cref="NeuronRescoring.Apply"/> builds it).</summary>
    public static NeuronScoreLine Line(SimulationResultsScan scan, Scores scores, int index, NeuronFile file)
    {
        int neuron = scores.NeuronOf[index];
        var all = scores.Results[ScoringBatch.ResultIndex(neuron, ScoreVariant.TopAndRandom)];
        var top = scores.Results[ScoringBatch.ResultIndex(neuron, ScoreVariant.TopOnly)];
        var random = scores.Results[ScoringBatch.ResultIndex(neuron, ScoreVariant.RandomOnly)];
        // No sidecar, so no calibration simulations: the calibrated scores are null, as SimulationScoring.Calibrated gives.
        return new NeuronScoreLine(file.Layer, file.Neuron, scan.FirstExplanation!, all.EvCorrelation, all.RSquared,
            all.AbsoluteDevExplained, null, null, top.EvCorrelation, random.EvCorrelation);
    }
}
