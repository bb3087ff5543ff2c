using ILGPU;
using NeuronEngine.Numerics;

namespace NeuronEngine.Kernels;

/// <summary>Sizes of one vocabulary chunk handed to <see cref="RelatedKernels.SelectTokens"/>.</summary>
/// <param name="Rows">tokens in the chunk (rows of y)</param>
/// <param name="Neurons">neurons of the layer (columns of y)</param>
/// <param name="FirstToken">vocabulary id of the chunk's first row</param>
/// <param name="Capacity">slots per list (the --top of engine related)</param>
/// <param name="Segments">threads per neuron: segment s takes rows s, s + S, s + 2S, …</param>
public readonly record struct TokenChunk(int Rows, int Neurons, int FirstToken, int Capacity, int Segments);

/// <summary>
/// Device half of `engine related`'s per-neuron top-k (CPU reference: NeuronEngine.Related.TokenTopK, the same keys from
/// the shared <see cref="RecordKeys"/>):
/// thread i = s·N + n keeps, for neuron n over its segment's rows, the <c>Capacity</c> smallest "high" keys
/// ((~ordered(v) &lt;&lt; 32) | token: largest values first, ties → lower token) and "low" keys ((ordered(v) &lt;&lt; 32) | token)
/// in unordered slots at keys[i·Capacity + slot]. Lanes are adjacent neurons, so each read of y [rows, N] is
/// coalesced; a thread caches its worst slot and only rescans after replacing it (after the first rows, almost
/// never). The host merges the S segments' lists of a neuron.
/// </summary>
public static class RelatedKernels
{
    public static void SelectTokens(Index1D i, ArrayView<float> y, ArrayView<ulong> highKeys, ArrayView<ulong> lowKeys, TokenChunk c)
    {
        int s = i / c.Neurons, n = i - s * c.Neurons;
        long start = (long)(int)i * c.Capacity;
        int worstHigh = RecordKernels.WorstSlot(highKeys, start, c.Capacity), worstLow = RecordKernels.WorstSlot(lowKeys, start, c.Capacity);
        ulong highBar = highKeys[start + worstHigh], lowBar = lowKeys[start + worstLow];
        for (int r = s; r < c.Rows; r += c.Segments)
        {
            float v = y[(long)r * c.Neurons + n];
            if ((Interop.FloatAsInt(v) & 0x7FFFFFFFu) > 0x7F800000u) continue; // NaN is never selected
            uint token = (uint)(c.FirstToken + r);
            ulong high = RecordKeys.TopKey(v, token);     // −0 ties with +0 in both orders
            if (high < highBar)
            {
                highKeys[start + worstHigh] = high;
                worstHigh = RecordKernels.WorstSlot(highKeys, start, c.Capacity);
                highBar = highKeys[start + worstHigh];
            }
            ulong low = RecordKeys.LowKey(v, token);
            if (low < lowBar)
            {
                lowKeys[start + worstLow] = low;
                worstLow = RecordKernels.WorstSlot(lowKeys, start, c.Capacity);
                lowBar = lowKeys[start + worstLow];
            }
        }
    }
}
