namespace NeuronEngine.Corpus;

/// <summary>
/// A corpus cut into <see cref="Count"/> windows of <see cref="SeqLen"/> token ids each, in corpus
/// order. Reading is thread-safe. Dispose to release the memory map of an llm.c .bin corpus.
/// </summary>
public sealed class TokenWindows : IDisposable
{
    private readonly ITokenSource _tokens;
    private bool _disposed;

    internal TokenWindows(string sourcePath, int seqLen, long count, ITokenSource tokens)
    {
        SourcePath = sourcePath;
        SeqLen = seqLen;
        Count = count;
        _tokens = tokens;
    }

    /// <summary>The corpus file, as given to <see cref="CorpusReader.Open"/>.</summary>
    public string SourcePath { get; }

    /// <summary>Tokens per window (T).</summary>
    public int SeqLen { get; }

    /// <summary>Number of windows (S).</summary>
    public long Count { get; }

    /// <summary>
    /// Bytes of a .txt or .jsonl corpus that were not valid UTF-8 and were read as U+FFFD (each invalid sequence
    /// becomes one U+FFFD); 0 for a valid file and for .bin token files. Callers warn about it.
    /// </summary>
    public long InvalidUtf8Bytes { get; internal init; }

    /// <summary>
    /// Copies windows [<paramref name="firstWindow"/>, <paramref name="firstWindow"/> + <paramref name="count"/>)
    /// into <paramref name="destination"/>, row-major [count, SeqLen].
    /// </summary>
    /// <exception cref="CorpusException">A .bin token in these windows is outside the model's vocabulary.</exception>
    public void CopyWindows(long firstWindow, int count, Span<int> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(firstWindow);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (firstWindow + count > Count)
        {
            throw new ArgumentOutOfRangeException(
                nameof(count), $"windows {firstWindow}..{firstWindow + count - 1} run past the last window {Count - 1}");
        }
        long tokenCount = (long)count * SeqLen;
        if (destination.Length < tokenCount)
        {
            throw new ArgumentException(
                $"destination holds {destination.Length} ids, fewer than {count} windows of {SeqLen}", nameof(destination));
        }
        _tokens.Copy(firstWindow * SeqLen, destination[..(int)tokenCount]);
    }

    /// <summary>A copy of one window's token ids.</summary>
    public int[] Window(long index)
    {
        var window = new int[SeqLen];
        CopyWindows(index, 1, window);
        return window;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _tokens.Dispose();
    }
}

/// <summary>Where windows' tokens come from: window i is tokens [i·T, (i+1)·T).</summary>
internal interface ITokenSource : IDisposable
{
    /// <summary>Copies destination.Length ids starting at <paramref name="firstToken"/>.</summary>
    void Copy(long firstToken, Span<int> destination);
}

/// <summary>Windows of a .txt or .jsonl corpus, tokenised up front and concatenated (tails already dropped).</summary>
internal sealed class InMemoryTokens(int[] tokens) : ITokenSource
{
    public void Copy(long firstToken, Span<int> destination) =>
        tokens.AsSpan(checked((int)firstToken), destination.Length).CopyTo(destination);

    public void Dispose()
    {
    }
}
