using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.Records;

/// <summary>
/// OpenAI's splits as its activations.py defines them: top records [train, calibration, valid, test] with
/// stride 4, random records [calibration, valid, test] with stride 3; valid = OpenAI's valid_activation_records.
/// </summary>
public class RecordSplitsTests
{
    private static NeuronRecord Record(int top, int random) => new()
    {
        NeuronId = new NeuronId { LayerIndex = 0, NeuronIndex = 1 },
        MostPositiveActivationRecords = [.. Enumerable.Range(0, top).Select(i => new ActivationRecord { Tokens = [$"t{i}"], Activations = [i] })],
        RandomSample = [.. Enumerable.Range(0, random).Select(i => new ActivationRecord { Tokens = [$"r{i}"], Activations = [i] })],
    };

    private static string[] Names(SplitRecord[] split) => split.Select(r => r.Record.Tokens[0]).ToArray();

    [Fact]
    public void FivePerSplitByIndex()
    {
        var record = Record(20, 15);
        Assert.Equal(["t0", "t4", "t8", "t12", "t16"], Names(RecordSplits.Train(record, 5)));
        Assert.Equal(["t1", "t5", "t9", "t13", "t17", "r0", "r3", "r6", "r9", "r12"], Names(RecordSplits.Calibration(record, 5)));
        Assert.Equal(["t2", "t6", "t10", "t14", "t18", "r1", "r4", "r7", "r10", "r13"], Names(RecordSplits.Valid(record, 5)));
        Assert.Equal(["t3", "t7", "t11", "t15", "t19", "r2", "r5", "r8", "r11", "r14"], Names(RecordSplits.Test(record, 5)));
        var valid = RecordSplits.Valid(record, 5);
        Assert.Equal([2, 6, 10, 14, 18, 1, 4, 7, 10, 13], valid.Select(r => r.Index));
        Assert.Equal([.. Enumerable.Repeat(RecordSource.Top, 5), .. Enumerable.Repeat(RecordSource.Random, 5)], valid.Select(r => r.Source));
    }

    [Fact]
    public void TheFourSplitsCoverTheFirstRecordsExactlyOnce()
    {
        var record = Record(12, 9);
        var all = new[] { RecordSplit.Train, RecordSplit.Calibration, RecordSplit.Valid, RecordSplit.Test }
            .SelectMany(s => RecordSplits.Take(record, s, 3)).ToArray();
        Assert.Equal(Enumerable.Range(0, 12), all.Where(r => r.Source == RecordSource.Top).Select(r => r.Index).Order());
        Assert.Equal(Enumerable.Range(0, 9), all.Where(r => r.Source == RecordSource.Random).Select(r => r.Index).Order());
    }

    [Fact]
    public void ExtraRecordsBeyondTheSplitsAreNotUsed()
    {
        var record = Record(40, 40);
        Assert.Equal(["t2", "t6", "r1", "r4"], Names(RecordSplits.Valid(record, 2)));
    }

    [Fact]
    public void ARecordShortOfTheSplitsIsRefusedNamingTheCounts()
    {
        var shortTop = Record(19, 15);
        var e = Assert.Throws<InvalidDataException>(() => RecordSplits.Valid(shortTop, 5));
        Assert.Contains("19 most_positive_activation_records and 15 random_sample records", e.Message);
        Assert.Contains("at least 20 most_positive_activation_records and 15 random_sample records", e.Message);
        Assert.Throws<InvalidDataException>(() => RecordSplits.Train(shortTop, 5));

        var shortRandom = Record(20, 14);
        Assert.Contains("14 random_sample records", Assert.Throws<InvalidDataException>(() => RecordSplits.Calibration(shortRandom, 5)).Message);
        Assert.Equal(5, RecordSplits.Train(shortRandom, 5).Length); // the train split needs top records only, as OpenAI's
        Assert.Null(RecordSplits.Shortfall(Record(20, 15), 5, usesRandom: true));
    }
}
