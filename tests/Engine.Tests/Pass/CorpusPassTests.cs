using NeuronEngine.Corpus;
using NeuronEngine.Forward;
using NeuronEngine.Pass;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Pass;

/// <summary>
/// The one corpus pass with stand-in devices and sinks: where it starts, where batches break, who gets which windows,
/// when it checkpoints and what its hooks see. (Dump, records and precision-effect on it are tested end to end in
/// their own classes, against the forward pass and brute force.)
/// </summary>
public class CorpusPassTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly TokenWindows _corpus;

    public CorpusPassTests()
    {
        // 40 windows of 4 tokens: token i of window w is w·4 + i (tokenised text would do, but this is easier to check).
        string path = _dir["corpus.bin"];
        using (var f = File.Create(path))
        {
            var header = new int[256];
            header[0] = 20240520; header[1] = 1; header[2] = 160;
            f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(header.AsSpan()));
            f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Range(0, 160).Select(t => (ushort)t).ToArray().AsSpan()));
        }
        _corpus = CorpusReader.Open(path, seqLen: 4, nPositions: 64, vocabSize: 50257);
        Assert.Equal(40, _corpus.Count);
    }

    public void Dispose()
    {
        _corpus.Dispose();
        _dir.Dispose();
    }

    /// <summary>Emits, for each requested layer, one activation per token: the index of the window its tokens came from (and lists its batches).</summary>
    private sealed class WindowIndexDevice(string name = "fake") : IForwardDevice
    {
        public readonly List<(long First, int Windows)> Batches = [];
        public string Name => name;
        public MatMulPrecision Precision => MatMulPrecision.Fp32;
        public int DefaultBatchWindows => 3;
        public double[]? LayerMilliseconds { get; set; }

        public void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, IReadOnlyCollection<int> layers, IMlpActivationSink sink, long firstWindow)
        {
            Batches.Add((firstWindow, windows));
            var values = new float[windows * seqLen];
            for (int w = 0; w < windows; w++) values.AsSpan(w * seqLen, seqLen).Fill(tokens[w * seqLen] / seqLen);
            foreach (int layer in layers) sink.OnMlpActivations(layer, firstWindow, windows, seqLen, values);
        }

        public void Dispose() { }
    }

    /// <summary>A sink that resumes at a given window, wants batches to break every <c>boundary</c> windows, and records everything.</summary>
    private sealed class RecordingSink(long resumeAt, long boundary = long.MaxValue) : IPassSink, IMlpActivationSink
    {
        public readonly List<long> Windows = [];
        public readonly List<string> Events = [];
        public IMlpActivationSink Activations => this;
        public long ResumeAt(PassWindows windows) => resumeAt;
        public long NextBoundary(long window) => boundary == long.MaxValue ? long.MaxValue : (window / boundary + 1) * boundary;
        public void BeginBatch(long firstWindow, int count, ReadOnlySpan<int> tokens) => Events.Add($"begin {firstWindow}+{count}");
        public bool EndBatch(long endWindow)
        {
            Events.Add($"end {endWindow}");
            return boundary != long.MaxValue && endWindow % boundary == 0;
        }
        public void Checkpoint(long nextWindow) => Events.Add($"checkpoint {nextWindow}");
        public void Complete() => Events.Add("complete");

        public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
        {
            for (int w = 0; w < windows; w++) Windows.Add((long)activations[w * seqLen]);
        }
    }

    private sealed class RecordingHooks : IPassHooks
    {
        public readonly List<PassPoint> Batches = [], Checkpoints = [];
        public void AfterBatch(PassPoint point) => Batches.Add(point);
        public void AfterCheckpoint(PassPoint point, CancellationToken cancel) => Checkpoints.Add(point);
    }

    [Fact]
    public void StartsWhereTheFirstSinkResumesAndEachSinkJoinsAtItsOwnResumePoint()
    {
        var device = new WindowIndexDevice();
        var dump = new RecordingSink(resumeAt: 16, boundary: 8);   // kept two shards of 8
        var records = new RecordingSink(resumeAt: 21);             // a checkpoint at window 21
        var hooks = new RecordingHooks();
        var result = new CorpusPass(_corpus, [0], batchWindows: 3) { Hooks = hooks }
            .Run(PassWindows.Range(new WindowRange(0, 40)), [new PassLane(device, [records, dump])]);

        Assert.Equal(16, result.StartWindow);
        Assert.Equal(24, result.WindowsRun);
        Assert.Equal(Enumerable.Range(16, 24).Select(w => (long)w), dump.Windows);
        Assert.Equal(Enumerable.Range(21, 19).Select(w => (long)w), records.Windows);
        // Batches of 3, broken at the shard ends (24, 32) and where the records join (21).
        Assert.Equal([(16, 3), (19, 2), (21, 3), (24, 3), (27, 3), (30, 2), (32, 3), (35, 3), (38, 2)], device.Batches);
        Assert.Equal(3, result.Commits);
        // The hooks see each batch before its commit, with the shard (segment) it lies in.
        Assert.Equal(new PassPoint(24, 16, 24, 0, 0), hooks.Batches[2]);
        Assert.Equal(new PassPoint(27, 24, 32, 1, 0), hooks.Batches[3]);
        Assert.Equal("complete", records.Events[^1]);
        Assert.DoesNotContain(records.Events, e => e == "begin 19+2");
    }

    [Fact]
    public void CheckpointsEveryNWindowsButNotAtTheEnd()
    {
        var device = new WindowIndexDevice();
        var sink = new RecordingSink(resumeAt: 0);
        var hooks = new RecordingHooks();
        var result = new CorpusPass(_corpus, [0, 1], batchWindows: 4) { Hooks = hooks, CheckpointEveryWindows = 10 }
            .Run(PassWindows.Range(new WindowRange(0, 40)), [new PassLane(device, [sink])]);
        Assert.Equal(["checkpoint 12", "checkpoint 24", "checkpoint 36"], sink.Events.Where(e => e.StartsWith("checkpoint")));
        Assert.Equal([1, 2, 3], hooks.Checkpoints.Select(p => p.Checkpoints));
        Assert.Equal(3, result.Checkpoints);
        Assert.Equal(2 * 40, sink.Windows.Count); // two layers
    }

    [Fact]
    public void ListedWindowsAndSeveralLanesEachSeeEveryBatchInOrder()
    {
        long[] pilot = [1, 5, 6, 17, 30, 39];
        var reference = new WindowIndexDevice("fp32");
        var compared = new WindowIndexDevice("tf32");
        var a = new RecordingSink(resumeAt: 1);
        var b = new RecordingSink(resumeAt: 1);
        var result = new CorpusPass(_corpus, [2], batchWindows: 4)
            .Run(PassWindows.Listed(pilot), [new PassLane(reference, [new PlainPassSink(a)]), new PassLane(compared, [new PlainPassSink(b)])]);
        Assert.Equal(pilot, a.Windows);
        Assert.Equal(pilot, b.Windows);
        Assert.Equal(reference.Batches, compared.Batches);
        Assert.Equal([(1, 4), (30, 2)], reference.Batches);
        Assert.Equal(2, result.LaneTimes.Count);
        Assert.Throws<ArgumentException>(() => PassWindows.Listed([3, 3]));
    }
}
