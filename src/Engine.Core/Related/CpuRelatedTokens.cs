using NeuronEngine.Cpu;
using NeuronEngine.Forward;
using NeuronEngine.Model;

namespace NeuronEngine.Related;

/// <summary>
/// `engine related` on the managed `cpu` device: per vocabulary chunk of <see cref="ChunkRows"/> tokens, the two
/// GEMMs of docs/related.md with <see cref="CpuMath.MatMulBias(float*, float*, float*, float*, int, int, int, bool, MatMulPrecision)"/>
/// (the forward pass's GEMM, in its <paramref name="precision"/>) and the top-k of each neuron's column kept in
/// <see cref="TokenTopK"/> lists.
/// </summary>
public sealed unsafe class CpuRelatedTokens(Gpt2Weights weights, bool withPositionZero, int chunkRows = 1024,
    MatMulPrecision precision = MatMulPrecision.Fp32) : IRelatedTokensDevice
{
    public string Name => "cpu";
    public int ChunkRows { get; } = chunkRows > 0 ? chunkRows : throw new ArgumentOutOfRangeException(nameof(chunkRows));
    public int ChunksPerLayer => (weights.Config.VocabSize + ChunkRows - 1) / ChunkRows;

    public RelatedLayer Compute(int layer, int top, Action? chunkDone = null)
    {
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp, vocab = c.VocabSize;
        string p = $"h.{layer}.";
        var inHigh = new TokenTopK(n, top);
        var inLow = new TokenTopK(n, top);
        var outHigh = new TokenTopK(n, top);
        var outLow = new TokenTopK(n, top);
        var directions = RelatedMath.OutputDirections(weights, layer);
        var zeros = new float[n];
        var x = GC.AllocateUninitializedArray<float>(ChunkRows * d, pinned: true);
        var normed = GC.AllocateUninitializedArray<float>(ChunkRows * d, pinned: true);
        var y = GC.AllocateUninitializedArray<float>(ChunkRows * n, pinned: true);
        float* wte = weights.FloatPointer("wte.weight"), wpe = weights.FloatPointer("wpe.weight");
        float* ln2W = weights.FloatPointer(p + "ln_2.weight"), ln2B = weights.FloatPointer(p + "ln_2.bias");
        float* fcW = weights.FloatPointer(p + "mlp.c_fc.weight"), fcB = weights.FloatPointer(p + "mlp.c_fc.bias");
        fixed (float* px = x, pn = normed, py = y, pb = directions, pz = zeros)
        {
            for (int t0 = 0; t0 < vocab; t0 += ChunkRows)
            {
                int rows = Math.Min(ChunkRows, vocab - t0);
                float* embeddings = wte + (long)t0 * d;
                // Input side: the token's embedding (+ wpe[0]) through this layer's ln_2 and c_fc.
                float* input = embeddings;
                if (withPositionZero)
                {
                    for (int r = 0; r < rows; r++)
                        for (int i = 0; i < d; i++) px[r * d + i] = embeddings[(long)r * d + i] + wpe[i];
                    input = px;
                }
                CpuMath.LayerNorm(input, pn, ln2W, ln2B, rows, d, c.LayerNormEpsilon);
                CpuMath.MatMulBias(pn, fcW, fcB, py, rows, d, n, gelu: false, precision);
                TokenTopK.OfferRows(py, rows, n, t0, inHigh, inLow);
                // Output side: each token's unembedding row against every neuron's output direction.
                CpuMath.MatMulBias(embeddings, pb, pz, py, rows, d, n, gelu: false, precision);
                TokenTopK.OfferRows(py, rows, n, t0, outHigh, outLow);
                chunkDone?.Invoke();
            }
        }
        var result = new RelatedLayer(layer, n, top);
        result.Fill(RelatedList.InputPositive, inHigh, high: true);
        result.Fill(RelatedList.InputNegative, inLow, high: false);
        result.Fill(RelatedList.OutputPositive, outHigh, high: true);
        result.Fill(RelatedList.OutputNegative, outLow, high: false);
        return result;
    }

    public void Dispose() { }
}
