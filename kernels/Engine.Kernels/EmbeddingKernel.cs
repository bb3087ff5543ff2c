using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// GPT-2's input embedding, one thread per output element:
///   x[t, i] = wte[token[t], i] + wpe[t mod T, i]      (t over all B·T tokens, T = the window length)
/// The tables stay in their storage dtype on the device (an F16/BF16 wte is half the memory of an F32 copy) and
/// are widened per element with <see cref="Decode"/>: widening is exact, so the result is bit-identical to the
/// CPU reference, which widens the tables once and adds in float. Token ids were validated on the host.
/// </summary>
public static class EmbeddingKernel
{
    /// <summary>F32 tables.</summary>
    public static void EmbedF32(Index1D index, ArrayView<int> tokens, ArrayView<float> wte, ArrayView<float> wpe,
        ArrayView<float> x, int seqLen, int d)
    {
        (long te, long pe) = Offsets(index, tokens, seqLen, d);
        x[index] = wte[te] + wpe[pe];
    }

    /// <summary>IEEE half tables (raw 16-bit patterns), decoded by <typeparamref name="THalf"/>.</summary>
    public static void EmbedF16<THalf>(Index1D index, ArrayView<int> tokens, ArrayView<ushort> wte, ArrayView<ushort> wpe,
        ArrayView<float> x, int seqLen, int d) where THalf : struct, IHalfDecode
    {
        (long te, long pe) = Offsets(index, tokens, seqLen, d);
        x[index] = default(THalf).ToFloat(wte[te]) + default(THalf).ToFloat(wpe[pe]);
    }

    /// <summary>bfloat16 tables (raw 16-bit patterns).</summary>
    public static void EmbedBF16(Index1D index, ArrayView<int> tokens, ArrayView<ushort> wte, ArrayView<ushort> wpe,
        ArrayView<float> x, int seqLen, int d)
    {
        (long te, long pe) = Offsets(index, tokens, seqLen, d);
        x[index] = Decode.BF16(wte[te]) + Decode.BF16(wpe[pe]);
    }

    /// <summary>
    /// Element offsets into wte and wpe for output element (t, i). 64-bit: wte of GPT-2 XL is 50257×1600 = 80 M
    /// elements, within int, but a token id times d must never wrap for larger vocabularies.
    /// </summary>
    private static (long Wte, long Wpe) Offsets(int index, ArrayView<int> tokens, int seqLen, int d)
    {
        int t = index / d, i = index - t * d;
        return ((long)tokens[t] * d + i, (long)(t % seqLen) * d + i);
    }
}
