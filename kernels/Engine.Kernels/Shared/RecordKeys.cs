using System.Runtime.CompilerServices;

namespace NeuronEngine.Numerics;

/// <summary>
/// The total orders the record collectors select by (one source for the managed collector, the record kernels,
/// checkpoints and merges). Every candidate window gets one 64-bit key per reservoir and a reservoir of capacity c keeps
/// the c SMALLEST keys. The window index sits in the low 32 bits, so no two windows share a key: the selection is a pure
/// function of the corpus (no ties, no dependence on batch or shard order), which is what makes the device, the CPU and
/// a merge of shards agree bit for bit.
///   top-k:   key = (~ordered(windowMax) &lt;&lt; 32) | window   — larger maxima first, ties → lower window index
///   samples: key = (hash(seed, layer, neuron, window, salt) &lt;&lt; 32) | window — the c windows with the smallest hash
///            are a uniform sample without replacement, and "smallest c of a union" merges exactly
/// `engine related` ranks tokens by the same keys (token id in the low bits): TopKey for the most positive, LowKey for
/// the most negative.
/// </summary>
static partial class RecordKeys
{
    /// <summary>An empty reservoir slot: larger than every real key (window indices stay below 2³² − 1).</summary>
    public const ulong Empty = ulong.MaxValue;

    /// <summary>Largest window index a key can carry (0xFFFFFFFF is reserved so that <see cref="Empty"/> is unique).</summary>
    public const long MaxWindows = uint.MaxValue - 1L;

    /// <summary>Salts that make the random sample and the quantile samples independent draws.</summary>
    public const uint RandomSalt = 0x52414E44, QuantileSalt = 0x5155414E;

    /// <summary>A uint whose unsigned order is the float order: flip every bit of negatives, only the sign bit of positives (−0 just below +0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint OrderedBits(float value)
    {
        uint u = FloatBits.ToBits(value);
        return (u & 0x80000000u) != 0 ? ~u : u | 0x80000000u;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromOrderedBits(uint ordered) =>
        FloatBits.FromBits((ordered & 0x80000000u) != 0 ? ordered & 0x7FFFFFFFu : ~ordered);

    /// <summary>−0 counts as +0 (GELU gives −0 for very negative inputs; a maximum of −0 ties with one of +0, as numbers do).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong TopKey(float windowMax, uint window) => ((ulong)~OrderedBits(windowMax == 0f ? 0f : windowMax) << 32) | window;

    /// <summary>
    /// The reverse order (smallest value first, ties → lower index): `engine related`'s most negative tokens. The top-k
    /// key <see cref="TopKey"/> is its most positive ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong LowKey(float value, uint index) => ((ulong)OrderedBits(value == 0f ? 0f : value) << 32) | index;

    /// <summary>The window maximum a top-k key was built from.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float TopMax(ulong key) => FromOrderedBits(~(uint)(key >> 32));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SampleKey(uint hash, uint window) => ((ulong)hash << 32) | window;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Window(ulong key) => (uint)key;

    /// <summary>
    /// 32 well-mixed bits of (seed, layer, neuron, window, salt): the inputs are folded with odd multipliers and
    /// passed twice through SplitMix64's finaliser (Steele et al. 2014), whose output passes BigCrush.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(ulong seed, int layer, int neuron, uint window, uint salt)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL ^ salt;
        z = Mix(z + (ulong)(uint)layer * 0xBF58476D1CE4E5B9UL);
        z = Mix(z + (ulong)(uint)neuron * 0x94D049BB133111EBUL);
        z = Mix(z + window * 0x9E3779B97F4A7C15UL);
        return (uint)(z >> 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
