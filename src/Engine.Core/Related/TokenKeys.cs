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
    public static unsafe void OfferRows(float* y, int rows, int neurons, int firstToken, TokenTopK high, TokenTopK low)
    {
        const int block = 64;
        nint address = (nint)y;
        Parallel.For(0, (neurons + block - 1) / block, b =>
        {
            float* v = (float*)address;
            int n0 = b * block, n1 = Math.Min(neurons, n0 + block);
            for (int r = 0; r < rows; r++)
            {
                float* row = v + (long)r * neurons;
                int token = firstToken + r;
                for (int n = n0; n < n1; n++)
                {
                    float x = row[n];
                    if (float.IsNaN(x)) continue;
                    high.Offer(n, TokenKeys.High(x, token));
                    low.Offer(n, TokenKeys.Low(x, token));
                }
            }
        });
    }
}
