using NeuronEngine.Corpus;
using NeuronEngine.Forward;

namespace NeuronEngine.Eval;

/// <summary>`engine eval`'s figures: mean next-token cross-entropy over the windows' predicted positions.</summary>
/// <param name="Loss">nats per predicted token: −mean log p(token[t+1] | tokens[..t])</param>
/// <param name="Tokens">predicted tokens counted: windows·(seqLen − 1) (a window's last position has no target inside it)</param>
public sealed record EvalResult(double Loss, long Tokens, long Windows, int SeqLen)
{
    /// <summary>The same loss in bits: loss / ln 2.</summary>
    public double BitsPerToken => Loss / Math.Log(2);

    /// <summary>exp(loss).</summary>
    public double Perplexity => Math.Exp(Loss);
}

/// <summary>
/// Sums −log p(target) over a batch's predicted positions: row r = window·seqLen + t predicts the batch's token r + 1
/// when t &lt; seqLen − 1 (windows are independent sequences, as in every corpus pass). Sums are in double.
/// </summary>
internal sealed class NextTokenLoss(int seqLen) : ILogProbSink
{
    private int[] _tokens = [];

    public double Sum { get; private set; }
    public long Count { get; private set; }

    /// <summary>The token ids of the batch whose log-probabilities come next.</summary>
    public void Begin(int[] tokens) => _tokens = tokens;

    public void OnLogProbs(int firstRow, int rows, int vocab, ReadOnlySpan<float> logProbs)
    {
        for (int r = 0; r < rows; r++)
        {
            int row = firstRow + r;
            if (row % seqLen == seqLen - 1) continue;
            Sum -= logProbs[r * vocab + _tokens[row + 1]];
            Count++;
        }
    }
}

/// <summary>`engine eval`: the corpus's first windows in batches through the full model.</summary>
public static class ModelEval
{
    public static EvalResult Run(IForwardDevice device, TokenWindows windows, int batchWindows, IProgress<NeuronEngine.IO.RunProgress>? progress = null,
        CancellationToken cancel = default)
    {
        if (windows.SeqLen < 2) throw new ArgumentException($"--seq-len {windows.SeqLen}: a window needs at least 2 tokens to predict one");
        var loss = new NextTokenLoss(windows.SeqLen);
        long done = 0;
        while (done < windows.Count)
        {
            cancel.ThrowIfCancellationRequested();
            int count = (int)Math.Min(batchWindows, windows.Count - done);
            var tokens = new int[count * windows.SeqLen];
            windows.CopyWindows(done, count, tokens);
            loss.Begin(tokens);
            device.Run(tokens, count, windows.SeqLen, new ForwardRequest { LogProbs = loss, FirstWindow = done });
            done += count;
            progress?.Report(new(done, windows.Count));
        }
        return new EvalResult(loss.Sum / loss.Count, loss.Count, windows.Count, windows.SeqLen);
    }
}
