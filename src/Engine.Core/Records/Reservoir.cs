using NeuronEngine.Numerics;
namespace NeuronEngine.Records;

/// <summary>
/// A fixed-capacity selection per group (a neuron, or a neuron's quantile band): the <see cref="Capacity"/>
/// smallest keys offered so far (see <see cref="RecordKeys"/>) and each one's window activations. Slots are in no
/// particular order; <see cref="Sorted"/> orders them. Layout (shared with the device): Keys[g·c + s],
/// Activations[(g·c + s)·T + t].
/// </summary>
public sealed class Reservoir
{
    public int Groups { get; }
    public int Capacity { get; }
    public int SeqLen { get; }
    public ulong[] Keys { get; }
    public float[] Activations { get; }

    /// <summary>
    /// Per group, the slot <see cref="WorstSlot"/> would return, kept current by the managed collector so an offer
    /// costs one comparison (0 is right for an empty group). Not part of the state: merges and readers rebuild it.
    /// </summary>
    internal int[] CachedWorst { get; }

    public Reservoir(int groups, int capacity, int seqLen)
    {
        Groups = groups; Capacity = capacity; SeqLen = seqLen;
        Keys = new ulong[checked(groups * capacity)];
        Array.Fill(Keys, RecordKeys.Empty);
        CachedWorst = new int[groups];
        Activations = new float[checked((long)groups * capacity * seqLen) is var n && n <= Array.MaxLength ? (int)n
            : throw new ArgumentException($"records of {groups} groups × {capacity} windows × {seqLen} tokens do not fit in memory")];
    }

    /// <summary>The slot holding the largest key of group g (an empty slot if any): the one a better candidate replaces.</summary>
    public int WorstSlot(int group)
    {
        int start = group * Capacity, worst = 0;
        for (int s = 1; s < Capacity; s++)
            if (Keys[start + s] > Keys[start + worst]) worst = s;
        return worst;
    }

    /// <summary>The filled slots of group g in ascending key order (best first).</summary>
    public int[] Sorted(int group)
    {
        int start = group * Capacity;
        var slots = Enumerable.Range(0, Capacity).Where(s => Keys[start + s] != RecordKeys.Empty).ToArray();
        Array.Sort(slots, (a, b) => Keys[start + a].CompareTo(Keys[start + b]));
        return slots;
    }

    public ReadOnlySpan<float> SlotActivations(int group, int slot) =>
        Activations.AsSpan(((group * Capacity) + slot) * SeqLen, SeqLen);

    /// <summary>
    /// this ← the Capacity smallest keys of this ∪ other, per group, stored sorted. Exact: a key identifies its window,
    /// so the union of two disjoint shards' selections contains the selection of their union.
    /// </summary>
    public void MergeFrom(Reservoir other)
    {
        if (other.Groups != Groups || other.Capacity != Capacity || other.SeqLen != SeqLen)
            throw new InvalidDataException($"cannot merge records of different shapes ({Groups}×{Capacity}×{SeqLen} vs {other.Groups}×{other.Capacity}×{other.SeqLen})");
        var keys = new ulong[Capacity];
        var acts = new float[Capacity * SeqLen];
        for (int g = 0; g < Groups; g++)
        {
            var candidates = Sorted(g).Select(s => (Key: Keys[g * Capacity + s], From: this, Slot: s))
                .Concat(other.Sorted(g).Select(s => (Key: other.Keys[g * Capacity + s], From: other, Slot: s)))
                .OrderBy(c => c.Key).Take(Capacity).ToArray();
            Array.Fill(keys, RecordKeys.Empty);
            for (int i = 0; i < candidates.Length; i++)
            {
                var c = candidates[i];
                if (i > 0 && c.Key == candidates[i - 1].Key)
                    throw new InvalidDataException($"window {RecordKeys.Window(c.Key)} appears in two inputs: the shards overlap");
                keys[i] = c.Key;
                c.From.SlotActivations(g, c.Slot).CopyTo(acts.AsSpan(i * SeqLen, SeqLen));
            }
            keys.CopyTo(Keys.AsSpan(g * Capacity, Capacity));
            acts.CopyTo(Activations.AsSpan(g * Capacity * SeqLen, Capacity * SeqLen));
            CachedWorst[g] = WorstSlot(g);
        }
    }
}
