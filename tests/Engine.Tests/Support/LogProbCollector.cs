using NeuronEngine.Forward;

namespace NeuronEngine.Tests.Support;

/// <summary>Collects a batch's next-token log-probabilities into one [rows, vocab] array, checking the blocks cover every row once.</summary>
public sealed class LogProbCollector(int rows, int vocab) : ILogProbSink
{
    public readonly float[] Values = new float[rows * vocab];
    private int _next;

    public void OnLogProbs(int firstRow, int count, int v, ReadOnlySpan<float> logProbs)
    {
        Assert.Equal(vocab, v);
        Assert.Equal(_next, firstRow);
        _next += count;
        logProbs.CopyTo(Values.AsSpan(firstRow * vocab, count * vocab));
    }

    /// <summary>Runs one request on a device and returns every row's log-probabilities.</summary>
    public static float[] Run(IForwardDevice device, int[] tokens, int windows, int seqLen, int vocab,
        IReadOnlyList<MlpPatch?>? patches = null, int[]? fanOut = null)
    {
        int elements = fanOut?.Length ?? windows;
        var sink = new LogProbCollector(elements * seqLen, vocab);
        device.Run(tokens, windows, seqLen, new ForwardRequest { LogProbs = sink, Patches = patches, FanOut = fanOut });
        Assert.Equal(elements * seqLen, sink._next);
        return sink.Values;
    }
}
