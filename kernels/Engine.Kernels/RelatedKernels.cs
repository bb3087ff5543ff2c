using ILGPU;
using NeuronEngine.Numerics;

namespace NeuronEngine.Kernels;

/// <summary>
/// One block of candidates handed to <see cref="RelatedKernels.SelectTokens"/>: value (r, n) of candidate r for neuron n
/// sits at y[r·RowStride + n·NeuronStride], and neuron n's lists in segment s at keys[((s·KeyNeurons + FirstNeuron + n)·Capacity …].
/// </summary>
/// <param name="Rows">candidates in the block (tokens of a vocabulary chunk; neurons of another layer)</param>
/// <param name="Neurons">neurons whose lists the block feeds (threads = Segments · Neurons)</param>
/// <param name="FirstToken">id of candidate 0 (a token id; layer·N + neuron for `engine connections`)</param>
/// <param name="Capacity">slots per list (the --top)</param>
/// <param name="Segments">threads per neuron: segment s takes candidates s, s + S, s + 2S, …</param>
/// <param name="RowStride">distance in y between candidates r and r + 1</param>
/// <param name="NeuronStride">distance in y between neurons n and n + 1</param>
/// <param name="FirstNeuron">the block's neuron 0 in the key buffer</param>
/// <param name="KeyNeurons">neurons per segment in the key buffer</param>
public readonly record struct TokenChunk(int Rows, int Neurons, int FirstToken, int Capacity, int Segments,
    long RowStride, long NeuronStride, int FirstNeuron, int KeyNeurons)
{
    /// <summary>
    /// A row-major [rows, neurons] block whose columns are the neurons (a vocabulary chunk × a layer's neurons; the
    /// upstream side of a layer pair): adjacent threads read adjacent values.
    /// </summary>
    public static TokenChunk Columns(int rows, int neurons, int firstToken, int capacity, int segments) =>
        new(rows, neurons, firstToken, capacity, segments, neurons, 1, 0, neurons);

    /// <summary>
    /// A row-major [neurons, candidates] block whose rows are the neurons: neurons <paramref name="firstNeuron"/>… of a
    /// key buffer of <paramref name="keyNeurons"/> (the downstream side of a layer pair, the source layer in chunks of
    /// rows). Adjacent threads read values a row apart: not coalesced (docs/related.md, cost of `engine connections`).
    /// </summary>
    public static TokenChunk RowsOf(int neurons, int candidates, int firstToken, int capacity, int segments, int firstNeuron, int keyNeurons) =>
        new(candidates, neurons, firstToken, capacity, segments, 1, candidates, firstNeuron, keyNeurons);
}

/// <summary>
/// Device half of the per-neuron top-k of `engine related` and `engine connections` (CPU reference:
/// NeuronEngine.Related.TokenTopK, the same keys from the shared <see cref="RecordKeys"/>):
/// thread i = s·Neurons + n keeps, for neuron n over its segment's candidates, the <c>Capacity</c> smallest "high" keys
/// ((~ordered(v) &lt;&lt; 32) | id: largest values first, ties → lower id) and "low" keys ((ordered(v) &lt;&lt; 32) | id)
/// in unordered slots of its group in the key buffers (<see cref="TokenChunk"/>). Launches continue the lists they find,
/// so one buffer collects a neuron's candidates over many blocks. With neurons along columns lanes are adjacent
/// neurons and each read of y is coalesced; a thread caches its worst slot and only rescans after replacing it (after
/// the first candidates, almost never). The host merges the S segments' lists of a neuron.
/// </summary>
public static class RelatedKernels
{
    public static void SelectTokens(Index1D i, ArrayView<float> y, ArrayView<ulong> highKeys, ArrayView<ulong> lowKeys, TokenChunk c)
    {
        int s = i / c.Neurons, n = i - s * c.Neurons;
        long start = ((long)s * c.KeyNeurons + c.FirstNeuron + n) * c.Capacity;
        int worstHigh = RecordKernels.WorstSlot(highKeys, start, c.Capacity), worstLow = RecordKernels.WorstSlot(lowKeys, start, c.Capacity);
        ulong highBar = highKeys[start + worstHigh], lowBar = lowKeys[start + worstLow];
        long column = n * c.NeuronStride;
        for (int r = s; r < c.Rows; r += c.Segments)
        {
            float v = y[r * c.RowStride + column];
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
