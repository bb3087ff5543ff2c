using NeuronEngine.Records;

namespace NeuronEngine.Explain;

/// <summary>A record to simulate and score, and where it came from.</summary>
public sealed record ScoredRecord(ActivationRecord Record, bool IsTop, int Index)
{
    public string Source => IsTop ? "top" : "random";
}

/// <summary>
/// OpenAI's splits (DESIGN §4): top records interleave into train/calibration/valid/test with stride 4 and
/// random records into calibration/valid/test with stride 3. The explainer sees top 0,4,8,…; the
/// simulator is scored on top 2,6,10,… then random 2,5,8,…, <c>perSplit</c> of each.
/// </summary>
public static class RecordSplits
{
    public static ActivationRecord[] ExplanationRecords(NeuronRecord record, int perSplit) =>
        Strided(record.MostPositiveActivationRecords, start: 0, stride: 4, perSplit).Select(x => x.Record).ToArray();

    /// <summary>The scored records, top ones first (the order OpenAI's results files keep).</summary>
    public static ScoredRecord[] ScoredRecords(NeuronRecord record, int perSplit) =>
        Strided(record.MostPositiveActivationRecords, start: 2, stride: 4, perSplit).Select(x => new ScoredRecord(x.Record, true, x.Index))
            .Concat(Strided(record.RandomSample, start: 2, stride: 3, perSplit).Select(x => new ScoredRecord(x.Record, false, x.Index)))
            .ToArray();

    private static IEnumerable<(ActivationRecord Record, int Index)> Strided(ActivationRecord[] records, int start, int stride, int count)
    {
        for (int i = start, taken = 0; i < records.Length && taken < count; i += stride, taken++)
            yield return (records[i], i);
    }
}
