using NeuronEngine.Cpu;
using NeuronEngine.Forward;
using NeuronEngine.Model;

namespace NeuronEngine.Related;

/// <summary>
/// `engine related` on the managed `cpu` device: per vocabulary chunk of <see cref="ChunkRows"/> tokens, the two
/// GEMMs of docs/related.md with <see cref="CpuMath.MatMulBias(float*, float*, float*, float*, int, int, int, bool, MatMulPrecision)"/>
/// (the forward pass's GEMM, in its <paramref name="precision"/>) and the top-k of each neuron's column kept in
/// <see cref="TokenTopK"/> lists. <paramref name="definition"/> picks the formulas (<see cref="RelatedDefinition"/>).
/// </summary>
public sealed unsafe class CpuRelatedTokens(Gpt2Weights weights, RelatedDefinition definition, bool withPositionZero, int chunkRows = 1024,
    MatMulPrecision precision = MatMulPrecision.Fp32) : IRelatedTokensDevice
{
    private readonly bool _withPositionZero = RelatedRun.CheckPositionZero(definition, withPositionZero);

    public string Name => "cpu";
    public int ChunkRows { get; } = chunkRows > 0 ? chunkRows : throw new ArgumentOutOfRangeException(nameof(chunkRows));
    public int ChunksPerLayer => (weights.Config.VocabSize + ChunkRows - 1) / ChunkRows;

    public RelatedLayer Compute(int layer, int top, Action? chunkDone = null)
    {
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp, vocab = c.VocabSize;
        string p = $"h.{layer}.";
        bool openAi = definition == RelatedDefinition.OpenAi;
        var inHigh = new TokenTopK(n, top);
        var inLow = new TokenTopK(n, top);
        var outHigh = new TokenTopK(n, top);
        var outLow = new TokenTopK(n, top);
        var outputDirections = RelatedMath.OutputDirections(weights, layer, definition);
        var inputDirections = openAi ? RelatedMath.InputDirections(weights, layer) : [];
        var zeros = new float[n];
        var x = GC.AllocateUninitializedArray<float>(ChunkRows * d, pinned: true);
        var normed = GC.AllocateUninitializedArray<float>(ChunkRows * d, pinned: true);
        var y = GC.AllocateUninitializedArray<float>(ChunkRows * n, pinned: true);
        float* wte = weights.FloatPointer("wte.weight"), wpe = weights.FloatPointer("wpe.weight");
        float* ln2W = weights.FloatPointer(p + "ln_2.weight"), ln2B = weights.FloatPointer(p + "ln_2.bias");
        float* fcW = weights.FloatPointer(p + "mlp.c_fc.weight"), fcB = weights.FloatPointer(p + "mlp.c_fc.bias");
        fixed (float* px = x, pn = normed, py = y, pOut = outputDirections, pIn = inputDirections, pz = zeros)
        {
            for (int t0 = 0; t0 < vocab; t0 += ChunkRows)
            {
                int rows = Math.Min(ChunkRows, vocab - t0);
                float* embeddings = wte + (long)t0 * d;
                if (openAi)
                {
                    // Input side, OpenAI's: wte[t] · diag(ln_2.g) · c_fc, no bias.
                    CpuMath.MatMulBias(embeddings, pIn, pz, py, rows, d, n, gelu: false, precision);
                }
                else
                {
                    // Input side, direct path: the token's embedding (+ wpe[0]) through this layer's ln_2 and c_fc.
                    float* input = embeddings;
                    if (_withPositionZero)
                    {
                        for (int r = 0; r < rows; r++)
                            for (int i = 0; i < d; i++) px[r * d + i] = embeddings[(long)r * d + i] + wpe[i];
                        input = px;
                    }
                    CpuMath.LayerNorm(input, pn, ln2W, ln2B, rows, d, c.LayerNormEpsilon);
                    CpuMath.MatMulBias(pn, fcW, fcB, py, rows, d, n, gelu: false, precision);
                }
                TokenTopK.OfferRows(py, rows, n, t0, inHigh, inLow);
                // Output side: each token's unembedding row against every neuron's output direction.
                CpuMath.MatMulBias(embeddings, pOut, pz, py, rows, d, n, gelu: false, precision);
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
