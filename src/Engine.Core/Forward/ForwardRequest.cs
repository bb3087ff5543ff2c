namespace NeuronEngine.Forward;

/// <summary>
/// What one forward batch is asked for, beyond its tokens: the layers whose neurons go to <see cref="Sink"/> and,
/// when <see cref="LogProbs"/> is set, the next-token log-probabilities of every position (the pass then runs to the
/// end: final LayerNorm and the tied unembedding). Without LogProbs the pass stops after the last requested layer.
/// </summary>
public sealed class ForwardRequest
{
    /// <summary>The layers whose post-GELU activations go to <see cref="Sink"/> (ascending order of calls).</summary>
    public IReadOnlyCollection<int> Layers { get; init; } = [];

    public IMlpActivationSink Sink { get; init; } = NullActivationSink.Instance;

    /// <summary>The corpus index of the batch's first window, passed on to the sink.</summary>
    public long FirstWindow { get; init; }

    /// <summary>When set, the full model runs and every position's log-softmax over the vocabulary goes here.</summary>
    public ILogProbSink? LogProbs { get; init; }

    /// <summary>
    /// One entry per batch element (null: none): the neuron activations it overwrites before c_proj (<see cref="MlpPatch"/>).
    /// </summary>
    public IReadOnlyList<MlpPatch?>? Patches { get; init; }

    /// <summary>
    /// Fan-out: when set, the batch has FanOut.Length elements and element e continues window FanOut[e] of the tokens.
    /// Layers below the first patched layer are computed once per window; then the residual stream is copied into its
    /// elements, which run the rest of the model with their own patches. Sinks are not served (no layers) with a fan-out.
    /// </summary>
    public int[]? FanOut { get; init; }

    /// <summary>The last layer the pass must compute: the whole model when log-probabilities are asked for.</summary>
    public int LastLayer(int nLayer) => LogProbs is not null ? nLayer - 1 : Layers.Count == 0 ? -1 : Layers.Max();

    /// <summary>Elements of the batch: the fan-out's, else one per window.</summary>
    public int Elements(int windows) => FanOut?.Length ?? windows;

    /// <summary>
    /// The first layer run per element (below it, per window): the lowest patched layer, or past the last layer when
    /// nothing is patched; 0 without a fan-out.
    /// </summary>
    public int FanOutLayer(int lastLayer) => FanOut is null ? 0
        : Patches?.Where(p => p is not null).Select(p => p!.Layer).DefaultIfEmpty(lastLayer + 1).Min() ?? lastLayer + 1;

    /// <summary>Checks the patches and the fan-out against a batch of <paramref name="windows"/> windows.</summary>
    public void Validate(int windows, int seqLen, int neuronsPerLayer, int lastLayer)
    {
        if (FanOut is { } map)
        {
            if (Layers.Count > 0) throw new ArgumentException("a fan-out batch serves no activation sink (its layers would mix windows and elements)");
            foreach (int w in map)
                if ((uint)w >= (uint)windows) throw new ArgumentException($"fan-out: window {w} is not in a batch of {windows}");
        }
        if (Patches is { } patches) MlpPatch.Validate(patches, Elements(windows), seqLen, neuronsPerLayer, lastLayer);
    }
}

/// <summary>
/// Receives next-token log-probabilities, a block of consecutive rows of the batch at a time (row = window·seqLen +
/// position), each row the float32 log-softmax of that position's logits (<see cref="LogSoftmax"/>). Blocks arrive in
/// ascending row order and cover every row once; the span is only valid during the call.
/// </summary>
public interface ILogProbSink
{
    void OnLogProbs(int firstRow, int rows, int vocab, ReadOnlySpan<float> logProbs);
}

/// <summary>
/// log-softmax of logit rows, in place: y_j = (z_j − max z) − log Σ_i exp(z_i − max z), in float32 with the max shift:
/// every exp is ≤ 1 (no overflow for any logit), their sum is accumulated in double, and the shift is subtracted before
/// the small log-sum (subtracting max + log-sum at once would round it at the logits' magnitude). One home for the devices: they compute logits (a GEMM on the device), then
/// this runs on the host over the rows copied back.
/// </summary>
public static class LogSoftmax
{
    /// <summary>Rows of the unembedding handed over at a time: ~16 M floats (64 MB) of logits at most, at least one row.</summary>
    public static int RowsPerBlock(int vocab, int rows) => Math.Max(1, Math.Min(rows, (1 << 24) / Math.Max(1, vocab)));

    public static void InPlace(Span<float> rows, int vocab)
    {
        if (vocab <= 0 || rows.Length % vocab != 0) throw new ArgumentException($"{rows.Length} values are not rows of {vocab}");
        int count = rows.Length / vocab;
        if (count == 1) { Row(rows); return; }
        unsafe
        {
            fixed (float* p = rows)
            {
                float* q = p;
                Parallel.For(0, count, r => Row(new Span<float>(q + (long)r * vocab, vocab)));
            }
        }
    }

    public static void Row(Span<float> z)
    {
        float max = float.NegativeInfinity;
        foreach (float v in z) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in z) sum += MathF.Exp(v - max);
        float logSum = (float)Math.Log(sum);
        for (int i = 0; i < z.Length; i++) z[i] = z[i] - max - logSum;
    }
}
