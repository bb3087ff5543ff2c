using System.Buffers;
using System.Text.Json;
using NeuronEngine.IO;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Scoring;

/// <summary>
/// The direct path of `engine score`: a results file without a sidecar is read into a pooled buffer and scanned
/// (<see cref="SimulationResultsScan"/>) into its explanations' values; a chunk's scans are scored in one batch per kind
/// (one slot per explanation: its top sequences then its random ones, OpenAI's layout; with rescored copies also one slot
/// per sequence) on the run's <see cref="IBatchScorer"/>. The scores.jsonl line and the rescored copy are what the object
/// path (<see cref="NeuronRescoring"/>) gives for the same file: the same doubles in the same slot layout, no calibration
/// without a sidecar.
/// </summary>
internal static class ScannedFiles
{
    /// <summary>
    /// The file scanned, or null when it needs the object path: it has a sidecar, cannot be opened, or is anything but
    /// the plain case (the object path then gives the failure its usual reason), its neuron_id is not its place, or —
    /// for a rescored copy (<paramref name="forCopy"/>) — an object lacks a field of OpenAI's dataclasses or has another.
    /// </summary>
    public static SimulationResultsScan? TryRead(NeuronFile file, bool forCopy)
    {
        if (File.Exists(SimulationSidecarFile.PathBeside(file.Path))) return null;
        var scan = new SimulationResultsScan { KeepAllExplanations = forCopy };
        byte[]? buffer = null;
        try
        {
            int length = ReadAll(file.Path, out buffer);
            if (length < 0 || !scan.TryScan(buffer.AsSpan(0, length)) || scan.ExplanationCount == 0
                || scan.Layer != file.Layer || scan.Neuron != file.Neuron || (forCopy && !scan.Verbatim)) return Reject(scan);
            scan.SourceLength = length;
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

    /// <summary>The file's bytes in a rented buffer (one byte longer than the file); -1 when it grew while being read.</summary>
    private static int ReadAll(string path, out byte[] buffer)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        long length = RandomAccess.GetLength(handle);
        if (length >= Array.MaxLength / 2) throw new IOException($"{path}: too large for one results file");
        // One byte more than the file: a file that grew since GetLength fills it, and is left to the object path.
        buffer = ArrayPool<byte>.Shared.Rent((int)length + 1);
        int read = 0, n;
        while (read < buffer.Length && (n = RandomAccess.Read(handle, buffer.AsSpan(read), read)) > 0) read += n;
        return read == buffer.Length ? -1 : read;
    }

    private static SimulationResultsScan? Reject(SimulationResultsScan scan)
    {
        scan.Dispose();
        return null;
    }

    /// <summary>A chunk's scores: scan i's first explanation slot and first sequence slot in the two batches.</summary>
    public sealed record Scores(ScoreTriple[] Explanations, ScoreTriple[] Sequences, int[] FirstExplanation, int[] FirstSequence);

    /// <summary>
    /// Scores the scans: every kept explanation (all three variants) in one batch, and with <paramref name="perSequence"/>
    /// every sequence alone in a second batch over the same values (each explanation's sequences are contiguous and in
    /// the file's order, top first, so both batches share the arrays).
    /// </summary>
    public static Scores Score(IReadOnlyList<SimulationResultsScan?> scans, IBatchScorer scorer, bool perSequence)
    {
        int n = scans.Count;
        var firstExplanation = new int[n];
        var firstSequence = new int[n];
        int explanations = 0, sequences = 0;
        long tokens = 0;
        for (int i = 0; i < n; i++)
        {
            firstExplanation[i] = explanations;
            firstSequence[i] = sequences;
            if (scans[i] is not { } scan) continue;
            int kept = perSequence ? scan.ExplanationSequenceCounts.Count : 1;
            explanations += kept;
            for (int e = 0; e < kept; e++)
            {
                tokens += scan.ExplanationTokens(e, out _);
                sequences += scan.ExplanationSequenceCounts[e];
            }
        }
        if (explanations == 0) return new Scores([], [], firstExplanation, firstSequence);
        if (tokens > int.MaxValue) throw new InvalidOperationException($"a chunk of {n} files holds {tokens} tokens; use fewer files per chunk");

        var trueValues = GC.AllocateUninitializedArray<double>((int)tokens);
        var expectedValues = GC.AllocateUninitializedArray<double>((int)tokens);
        var explanationOffsets = new int[explanations + 1];
        var topTokens = new int[explanations];
        var sequenceOffsets = new int[perSequence ? sequences + 1 : 1];
        int slot = 0, sequenceSlot = 0, at = 0;
        foreach (var scan in scans)
        {
            if (scan is null) continue;
            int kept = perSequence ? scan.ExplanationSequenceCounts.Count : 1, lengthIndex = 0, scanTokens = 0;
            for (int e = 0; e < kept; e++)
            {
                int explanationTokens = scan.ExplanationTokens(e, out topTokens[slot]);
                explanationOffsets[++slot] = at + scanTokens + explanationTokens;
                if (perSequence)
                {
                    for (int s = 0; s < scan.ExplanationSequenceCounts[e]; s++)
                    {
                        int end = sequenceOffsets[sequenceSlot] + scan.SequenceLengths[lengthIndex++];
                        sequenceOffsets[++sequenceSlot] = end;
                    }
                }
                scanTokens += explanationTokens;
            }
            scan.TrueActivations.AsSpan(0, scanTokens).CopyTo(trueValues.AsSpan(at));
            scan.ExpectedActivations.AsSpan(0, scanTokens).CopyTo(expectedValues.AsSpan(at));
            at += scanTokens;
        }
        var explanationScores = scorer.Score(new ScoringBatch(trueValues, expectedValues, explanationOffsets, topTokens));
        // One sequence alone: all of its tokens count as top (the top-and-random variant is the sequence's own score).
        var sequenceScores = perSequence
            ? scorer.Score(new ScoringBatch(trueValues, expectedValues, sequenceOffsets, SequenceLengthsOf(sequenceOffsets)))
            : [];
        return new Scores(explanationScores, sequenceScores, firstExplanation, firstSequence);
    }

    private static int[] SequenceLengthsOf(int[] offsets)
    {
        var lengths = new int[offsets.Length - 1];
        for (int i = 0; i < lengths.Length; i++) lengths[i] = offsets[i + 1] - offsets[i];
        return lengths;
    }

    /// <summary>The scores.jsonl line of scan <paramref name="index"/> (as <see cref="NeuronRescoring.Apply"/> builds it).</summary>
    public static NeuronScoreLine Line(SimulationResultsScan scan, Scores scores, int index, NeuronFile file)
    {
        int slot = scores.FirstExplanation[index];
        var all = scores.Explanations[ScoringBatch.ResultIndex(slot, ScoreVariant.TopAndRandom)];
        var top = scores.Explanations[ScoringBatch.ResultIndex(slot, ScoreVariant.TopOnly)];
        var random = scores.Explanations[ScoringBatch.ResultIndex(slot, ScoreVariant.RandomOnly)];
        // No sidecar, so no calibration simulations: the calibrated scores are null, as SimulationScoring.Calibrated gives.
        return new NeuronScoreLine(file.Layer, file.Neuron, scan.FirstExplanation!, all.EvCorrelation, all.RSquared,
            all.AbsoluteDevExplained, null, null, top.EvCorrelation, random.EvCorrelation);
    }

    /// <summary>
    /// Writes the rescored copy of scan <paramref name="index"/>'s file atomically: its bytes read again, every stored
    /// score replaced by the recomputed one (written as the typed writer writes a double: shortest round-trip, null when
    /// undefined), everything else as it was. Returns null, or why the copy could not be made.
    /// </summary>
    public static string? WriteCopy(SimulationResultsScan scan, Scores scores, int index, NeuronFile file, string outPath)
    {
        byte[]? buffer = null;
        try
        {
            int length = ReadAll(file.Path, out buffer);
            if (length != scan.SourceLength) return $"{file.Path} changed while it was being scored";
            var source = buffer;
            AtomicFile.Write(outPath, stream =>
            {
                var number = new ArrayBufferWriter<byte>(32);
                using var writer = new Utf8JsonWriter(number);
                int copied = 0;
                foreach (var span in scan.ScoreSpans)
                {
                    stream.Write(source, copied, span.Start - copied);
                    number.ResetWrittenCount();
                    writer.Reset(number);
                    if (ScoreOf(scan, scores, index, span) is double value && double.IsFinite(value)) writer.WriteNumberValue(value);
                    else writer.WriteNullValue();
                    writer.Flush();
                    stream.Write(number.WrittenSpan);
                    copied = span.Start + span.Length;
                }
                stream.Write(source, copied, length - copied);
            });
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot write rescored file: {e.Message}";
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static double? ScoreOf(SimulationResultsScan scan, Scores scores, int index, ScoreSpan span)
    {
        ScoreTriple triple;
        if (span.Sequence < 0)
            triple = scores.Explanations[ScoringBatch.ResultIndex(scores.FirstExplanation[index] + span.Explanation, ScoreVariant.TopAndRandom)];
        else
        {
            // The sequence's slot: the earlier explanations' sequences come first.
            int slot = scores.FirstSequence[index] + span.Sequence;
            for (int e = 0; e < span.Explanation; e++) slot += scan.ExplanationSequenceCounts[e];
            triple = scores.Sequences[ScoringBatch.ResultIndex(slot, ScoreVariant.TopAndRandom)];
        }
        return span.Field switch
        {
            ScoreField.EvCorrelation => triple.EvCorrelation,
            ScoreField.RSquared => triple.RSquared,
            _ => triple.AbsoluteDevExplained,
        };
    }
}
