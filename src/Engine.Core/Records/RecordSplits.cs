using System.Text.Json.Serialization;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Records;

/// <summary>Which list of a <see cref="NeuronRecord"/> a record comes from.</summary>
public enum RecordSource
{
    /// <summary>most_positive_activation_records.</summary>
    [JsonStringEnumMemberName("top")] Top,
    /// <summary>random_sample.</summary>
    [JsonStringEnumMemberName("random")] Random,
}

/// <summary>OpenAI's splits of a neuron's records (activations.py): what each stage uses.</summary>
public enum RecordSplit
{
    /// <summary>Top records only: what the explainer sees.</summary>
    [JsonStringEnumMemberName("train")] Train,
    /// <summary>Top and random records 1:1: what the linear calibration of the simulator is fitted on.</summary>
    [JsonStringEnumMemberName("calibration")] Calibration,
    /// <summary>Top and random records 1:1: what explanations are scored on (OpenAI's valid_activation_records).</summary>
    [JsonStringEnumMemberName("valid")] Valid,
    /// <summary>Top and random records 1:1, held out (not used by the engine).</summary>
    [JsonStringEnumMemberName("test")] Test,
}

/// <summary>A record of a split and where it came from: its list and its index there.</summary>
public sealed record SplitRecord(ActivationRecord Record, RecordSource Source, int Index)
{
    public string SourceName => RecordSplits.SourceName(Source);
}

/// <summary>
/// OpenAI's splits (neuron_explainer/activations/activations.py, docs/design.md §4). Top records interleave into
/// [train, calibration, valid, test] with stride 4, random records into [calibration, valid, test] with
/// stride 3, <c>perSplit</c> records each. With 5 per split: train = top 0,4,8,12,16; calibration = top
/// 1,5,9,13,17 + random 0,3,6,9,12; valid = top 2,6,10,14,18 + random 1,4,7,10,13; test = top 3,7,… +
/// random 2,5,8,…. Top records come first, as in OpenAI's lists. Like OpenAI's code, a record with fewer
/// than 4·perSplit top records (or, for the mixed splits, 3·perSplit random ones) is refused with an
/// <see cref="InvalidDataException"/> naming the counts, never scored on fewer records.
/// </summary>
public static class RecordSplits
{
    public const int TopSplitCount = 4;
    public const int RandomSplitCount = 3;

    public static SplitRecord[] Train(NeuronRecord record, int perSplit) => Take(record, RecordSplit.Train, perSplit);
    public static SplitRecord[] Calibration(NeuronRecord record, int perSplit) => Take(record, RecordSplit.Calibration, perSplit);
    public static SplitRecord[] Valid(NeuronRecord record, int perSplit) => Take(record, RecordSplit.Valid, perSplit);
    public static SplitRecord[] Test(NeuronRecord record, int perSplit) => Take(record, RecordSplit.Test, perSplit);

    public static SplitRecord[] Take(NeuronRecord record, RecordSplit split, int perSplit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perSplit, 1);
        bool usesRandom = split != RecordSplit.Train;
        if (Shortfall(record, perSplit, usesRandom) is { } problem) throw new InvalidDataException(problem);
        var top = Strided(record.MostPositiveActivationRecords, TopStart(split), TopSplitCount, perSplit, RecordSource.Top);
        return usesRandom
            ? [.. top, .. Strided(record.RandomSample, RandomStart(split), RandomSplitCount, perSplit, RecordSource.Random)]
            : [.. top];
    }

    /// <summary>
    /// Why the record cannot be split (naming the counts it has and needs), or null. The train split
    /// needs only the top records, as OpenAI's train_activation_records checks only those.
    /// </summary>
    public static string? Shortfall(NeuronRecord record, int perSplit, bool usesRandom)
    {
        int top = record.MostPositiveActivationRecords.Length, random = record.RandomSample.Length;
        int needTop = TopSplitCount * perSplit, needRandom = RandomSplitCount * perSplit;
        if (top >= needTop && (!usesRandom || random >= needRandom)) return null;
        string need = usesRandom
            ? $"{needTop} most_positive_activation_records and {needRandom} random_sample records"
            : $"{needTop} most_positive_activation_records";
        return $"the record has {top} most_positive_activation_records and {random} random_sample records; "
            + $"{perSplit} examples per split need at least {need} (top records go to 4 splits: train, calibration, valid, test; "
            + "random records to 3: calibration, valid, test). OpenAI's splits refuse such a record too: lower --examples-per-split "
            + "or collect more records (engine records --top-k, --random)";
    }

    public static string SourceName(RecordSource source) => source == RecordSource.Top ? "top" : "random";

    public static RecordSource ParseSource(string name) => name switch
    {
        "top" => RecordSource.Top,
        "random" => RecordSource.Random,
        _ => throw new InvalidDataException($"record source \"{name}\": expected \"top\" or \"random\""),
    };

    public static string SplitName(RecordSplit split) => split.ToString().ToLowerInvariant();

    private static int TopStart(RecordSplit split) => (int)split; // train 0, calibration 1, valid 2, test 3

    private static int RandomStart(RecordSplit split) => split switch
    {
        RecordSplit.Calibration => 0,
        RecordSplit.Valid => 1,
        RecordSplit.Test => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "the train split has no random records"),
    };

    private static IEnumerable<SplitRecord> Strided(ActivationRecord[] records, int start, int stride, int count, RecordSource source)
    {
        for (int taken = 0, i = start; taken < count; taken++, i += stride)
            yield return new SplitRecord(records[i], source, i);
    }
}
