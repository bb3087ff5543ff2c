using NeuronEngine.Numerics;

namespace NeuronEngine.Related;

/// <summary>
/// The orders `engine related` selects tokens by, as 64-bit keys of which a list keeps the k SMALLEST (the same
/// scheme as the record collectors, <see cref="RecordKeys"/>): the token id in the low 32 bits makes every key unique,
/// so the selection does not depend on chunking, device thread order or the merge of partial lists.
/// <list type="bullet">
/// <item>high (most positive): key = (~ordered(v) &lt;&lt; 32) | token — larger values first, ties → lower token id;</item>
/// <item>low (most negative): key = (ordered(v) &lt;&lt; 32) | token — smaller values first, ties → lower token id.</item>
/// </list>
/// −0 counts as +0. The device kernel (Engine.Kernels/RelatedKernels.cs) builds the same keys from the same source.
/// </summary>
public static class TokenKeys
{
    public const ulong Empty = RecordKeys.Empty;

    public static ulong High(float value, int token) => RecordKeys.TopKey(value, (uint)token);

    public static ulong Low(float value, int token) => RecordKeys.LowKey(value, (uint)token);

    public static float HighValue(ulong key) => RecordKeys.TopMax(key);
    public static float LowValue(ulong key) => RecordKeys.FromOrderedBits((uint)(key >> 32));
    public static int Token(ulong key) => (int)(uint)key;
}

/// <summary>
/// Per group (a neuron, or a neuron within one device segment), the <see cref="Capacity"/> smallest keys offered so
/// far, in unordered slots; the index of the worst (largest) slot is cached so a miss costs one comparison.
/// </summary>
public sealed class TokenTopK
{
    public int Groups { get; }
    public int Capacity { get; }
    public ulong[] Keys { get; }
    private readonly int[] _worst;

    public TokenTopK(int groups, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Groups = groups; Capacity = capacity;
        Keys = new ulong[(long)groups * capacity];
        Array.Fill(Keys, TokenKeys.Empty);
        _worst = new int[groups];
    }

    /// <summary>Wraps keys produced elsewhere (a device download), <paramref name="keys"/>.Length = groups·capacity.</summary>
    public TokenTopK(ulong[] keys, int capacity)
    {
        Capacity = capacity;
        Groups = keys.Length / capacity;
        Keys = keys;
        _worst = new int[Groups];
        for (int g = 0; g < Groups; g++) _worst[g] = WorstSlot(g);
    }

    public void Offer(int group, ulong key)
    {
        long start = (long)group * Capacity;
        int worst = _worst[group];
        if (key >= Keys[start + worst]) return;
        Keys[start + worst] = key;
        _worst[group] = WorstSlot(group);
    }

    private int WorstSlot(int group)
    {
        long start = (long)group * Capacity;
        int worst = 0;
        for (int s = 1; s < Capacity; s++)
            if (Keys[start + s] > Keys[start + worst]) worst = s;
        return worst;
    }

    /// <summary>The group's keys, smallest first, without empty slots.</summary>
    public ulong[] Sorted(int group)
    {
        var keys = Keys.AsSpan((int)((long)group * Capacity), Capacity).ToArray().Where(k => k != TokenKeys.Empty).ToArray();
        Array.Sort(keys);
        return keys;
    }

    /// <summary>
    /// Offers every value of rows [0, rows) of y (row-major [rows, neurons]; row r is token firstToken + r) to the
    /// high and low lists of its neuron (group = neuron). NaN values are never selected. Parallel over neuron blocks.
    /// </summary>
    public static unsafe void OfferRows(float* y, int rows, int neurons, int firstToken, TokenTopK high, TokenTopK low) =>
        OfferStrided(y, rows, neurons, neurons, 1, firstToken, 0, high, low);

    /// <summary>
    /// The general form of <see cref="OfferRows"/>: value (r, g) at y[r·rowStride + g·groupStride] for candidates
    /// r ∈ [0, rows) (id firstId + r) and groups g ∈ [0, groups) (list group firstGroup + g). `engine related` offers a
    /// [tokens, neurons] block by columns; `engine connections` offers a [N₁, N₂] block by columns (upstream lists of
    /// the later layer's neurons) and by rows (downstream lists of the earlier layer's). Parallel over group blocks.
    /// </summary>
    public static unsafe void OfferStrided(float* y, int rows, int groups, long rowStride, long groupStride, int firstId, int firstGroup,
        TokenTopK high, TokenTopK low)
    {
        const int block = 64;
        nint address = (nint)y;
        Parallel.For(0, (groups + block - 1) / block, b =>
        {
            float* v = (float*)address;
            int g0 = b * block, g1 = Math.Min(groups, g0 + block);
            for (int r = 0; r < rows; r++)
            {
                float* at = v + r * rowStride + g0 * groupStride;
                int id = firstId + r;
                for (int g = g0; g < g1; g++, at += groupStride)
                {
                    float x = *at;
                    if (float.IsNaN(x)) continue;
                    high.Offer(firstGroup + g, TokenKeys.High(x, id));
                    low.Offer(firstGroup + g, TokenKeys.Low(x, id));
                }
            }
        });
    }

    /// <summary>
    /// Merges lists kept per device segment — keys[(s·Groups + g)·Capacity + slot], s &lt; <paramref name="segments"/>,
    /// as the device kernel leaves them — into this one's groups (the smallest keys of a union: exact, order-free).
    /// </summary>
    public void OfferSegments(ulong[] keys, int segments)
    {
        if (keys.LongLength != (long)segments * Groups * Capacity) throw new ArgumentException($"{keys.LongLength} keys is not {segments} segments × {Groups} groups × {Capacity}");
        Parallel.For(0, Groups, g =>
        {
            for (int s = 0; s < segments; s++)
            {
                long start = ((long)s * Groups + g) * Capacity;
                for (int slot = 0; slot < Capacity; slot++)
                    if (keys[start + slot] != TokenKeys.Empty) Offer(g, keys[start + slot]);
            }
        });
    }
}

/// <summary>A group's most positive (<see cref="High"/>) and most negative (<see cref="Low"/>) lists, side by side.</summary>
public sealed record TopAndBottom(TokenTopK High, TokenTopK Low)
{
    public TopAndBottom(int groups, int capacity) : this(new TokenTopK(groups, capacity), new TokenTopK(groups, capacity)) { }
}
