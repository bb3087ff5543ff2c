using System.Text.Json.Serialization;
using NeuronEngine.Corpus;

namespace NeuronEngine.Pass;

/// <summary>A half-open range of corpus windows [First, End).</summary>
public sealed record WindowRange([property: JsonPropertyName("first")] long First, [property: JsonPropertyName("end")] long End)
{
    [JsonIgnore] public long Count => End - First;
}

/// <summary>
/// The corpus windows a pass runs over, in ascending order: a range (a dump, a records shard) or a list (the records'
/// pilot: evenly spaced windows). Positions 0..Count−1 index them; sinks speak of window indices.
/// </summary>
public sealed class PassWindows
{
    private readonly long _first;
    private readonly long[]? _listed;

    private PassWindows(long first, long count, long[]? listed)
    {
        _first = first; Count = count; _listed = listed;
    }

    public long Count { get; }

    public static PassWindows Range(WindowRange range) => new(range.First, Math.Max(0, range.Count), null);

    /// <summary>These windows, which must be ascending.</summary>
    public static PassWindows Listed(long[] windows)
    {
        for (int i = 1; i < windows.Length; i++)
            if (windows[i] <= windows[i - 1]) throw new ArgumentException("a pass's windows must be ascending");
        return new(0, windows.Length, windows);
    }

    /// <summary>The corpus index of the window at <paramref name="position"/>.</summary>
    public long this[long position] => _listed is null ? _first + position : _listed[position];

    /// <summary>The position of the first window at or after corpus window <paramref name="window"/> (Count if none).</summary>
    public long PositionOf(long window)
    {
        if (_listed is null) return Math.Clamp(window - _first, 0, Count);
        int i = Array.BinarySearch(_listed, window);
        return i >= 0 ? i : ~i;
    }

    /// <summary>The tokens of the <paramref name="count"/> windows from <paramref name="position"/> on, [count, seqLen].</summary>
    public void CopyTokens(TokenWindows corpus, long position, int count, Span<int> tokens)
    {
        if (_listed is null)
        {
            corpus.CopyWindows(_first + position, count, tokens);
            return;
        }
        int seqLen = corpus.SeqLen;
        for (int j = 0; j < count; j++) corpus.CopyWindows(_listed[position + j], 1, tokens.Slice(j * seqLen, seqLen));
    }
}
