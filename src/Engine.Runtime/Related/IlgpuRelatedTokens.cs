using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Forward;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Related;
using NeuronEngine.Runtime.Ops;

namespace NeuronEngine.Runtime.Related;

/// <summary>
/// `engine related` on an ILGPU accelerator. Per layer and vocabulary chunk of <see cref="ChunkRows"/> tokens, on one
/// stream: the embedding gather (<see cref="EmbeddingOp"/>, seqLen 1, so position 0 is the only position), then the
/// input side — OpenAI's definition: the GEMM (<see cref="GemmOp"/>, the forward pass's kernel, in its precision) with
/// the input directions diag(ln_2.g)·c_fc (<see cref="RelatedMath.InputDirections"/>); the direct path: this layer's
/// ln_2 (<see cref="LayerNormOp"/>) and the GEMM with c_fc (+ bias) — and its top-k update
/// (<see cref="RelatedKernels.SelectTokens"/>); then the GEMM of the raw embeddings with the output directions ([d, N],
/// prepared on the host by <see cref="RelatedMath.OutputDirections"/>) and its top-k. CPU reference: <see cref="CpuRelatedTokens"/>.
/// Only the lists ([S, N, top] keys × 4) come back to the host, once per layer.
/// </summary>
public sealed class IlgpuRelatedTokens : IRelatedTokensDevice
{
    private readonly Context? _context;
    private readonly Accelerator _accelerator;
    private readonly Gpt2Weights _weights;
    private readonly RelatedDefinition _definition;
    private readonly bool _withPositionZero;
    private readonly DeviceWeights _device;
    private readonly EmbeddingOp _embedding;
    private readonly LayerNormOp _layerNorm;
    private readonly GemmOp _gemm;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>, ArrayView<ulong>, TokenChunk> _select;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _tokenIds;
    private readonly MemoryBuffer1D<byte, Stride1D.Dense> _zeroRow;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _zeroBias, _input, _normed, _embeddings, _y;

    public string Name { get; }
    public int ChunkRows { get; }
    /// <summary>Threads per neuron in the top-k kernel (their lists are merged on the host).</summary>
    public int Segments { get; }
    public int ChunksPerLayer => (_weights.Config.VocabSize + ChunkRows - 1) / ChunkRows;

    /// <summary>Takes ownership of <paramref name="context"/> and <paramref name="accelerator"/> (when the context is given).</summary>
    public IlgpuRelatedTokens(string name, Context? context, Accelerator accelerator, Gpt2Weights weights, RelatedDefinition definition,
        bool withPositionZero, MatMulPrecision precision = MatMulPrecision.Fp32, int chunkRows = 8192, int? segments = null)
    {
        Name = name; _context = context; _accelerator = accelerator; _weights = weights; _definition = definition;
        _withPositionZero = RelatedRun.CheckPositionZero(definition, withPositionZero);
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp;
        ChunkRows = Math.Min(chunkRows > 0 ? chunkRows : throw new ArgumentOutOfRangeException(nameof(chunkRows)), c.VocabSize);
        // Enough threads to fill a GPU (≈ 64 K) while each still walks ≥ 256 rows of a chunk.
        Segments = segments ?? Math.Clamp(Math.Min(65536 / n, ChunkRows / 256), 1, 64);
        _device = new DeviceWeights(accelerator, weights, new ElementwiseOps(accelerator));
        _embedding = new EmbeddingOp(accelerator);
        _layerNorm = new LayerNormOp(accelerator);
        _gemm = new GemmOp(accelerator, precision);
        _select = KernelCatalog.SelectTokens.Load(accelerator);
        _tokenIds = accelerator.Allocate1D(Enumerable.Range(0, c.VocabSize).ToArray());
        int elementSize = _device.EmbeddingFormat == WeightFormat.F32 ? 4 : 2;
        _zeroRow = accelerator.Allocate1D<byte>((long)d * elementSize);
        _zeroRow.MemSetToZero();
        _zeroBias = accelerator.Allocate1D<float>(n);
        _zeroBias.MemSetToZero();
        _input = accelerator.Allocate1D<float>((long)ChunkRows * d);
        _normed = accelerator.Allocate1D<float>((long)ChunkRows * d);
        _embeddings = accelerator.Allocate1D<float>((long)ChunkRows * d);
        _y = accelerator.Allocate1D<float>((long)ChunkRows * n);
        accelerator.Synchronize();
    }

    public RelatedLayer Compute(int layer, int top, Action? chunkDone = null)
    {
        var c = _weights.Config;
        int d = c.NEmbd, n = c.DMlp, vocab = c.VocabSize;
        string p = $"h.{layer}.";
        var stream = _accelerator.DefaultStream;
        long slots = (long)Segments * n * top;
        var empty = new ulong[slots];
        Array.Fill(empty, TokenKeys.Empty);
        bool openAi = _definition == RelatedDefinition.OpenAi;
        using var ln2W = openAi ? null : Upload(_weights.Floats(p + "ln_2.weight"));
        using var ln2B = openAi ? null : Upload(_weights.Floats(p + "ln_2.bias"));
        // OpenAI's input side is one GEMM with diag(ln_2.g)·c_fc and no bias; the direct path's is LayerNorm, then c_fc + bias.
        using var fcW = Upload(openAi ? RelatedMath.InputDirections(_weights, layer) : _weights.Floats(p + "mlp.c_fc.weight"));
        using var fcB = openAi ? null : Upload(_weights.Floats(p + "mlp.c_fc.bias"));
        using var directions = Upload(RelatedMath.OutputDirections(_weights, layer, _definition));
        using var inHigh = _accelerator.Allocate1D(empty);
        using var inLow = _accelerator.Allocate1D(empty);
        using var outHigh = _accelerator.Allocate1D(empty);
        using var outLow = _accelerator.Allocate1D(empty);
        var wpe = _withPositionZero ? _device.Wpe.View : _zeroRow.View;
        for (int t0 = 0; t0 < vocab; t0 += ChunkRows)
        {
            int rows = Math.Min(ChunkRows, vocab - t0);
            var ids = _tokenIds.View.SubView(t0, rows);
            var chunk = TokenChunk.Columns(rows, n, t0, top, Segments);
            _embedding.Launch(stream, ids, _device.Wte.View, wpe, _device.EmbeddingFormat, _input.View, rows, seqLen: 1, d);
            if (openAi) _gemm.Launch(stream, _input.View, fcW.View, _zeroBias.View, _y.View, rows, d, n, gelu: false);
            else
            {
                _layerNorm.Launch(stream, _input.View, _normed.View, ln2W!.View, ln2B!.View, rows, d, c.LayerNormEpsilon);
                _gemm.Launch(stream, _normed.View, fcW.View, fcB!.View, _y.View, rows, d, n, gelu: false);
            }
            _select(stream, Segments * n, _y.View, inHigh.View, inLow.View, chunk);
            var embeddings = _input.View;
            if (_withPositionZero)
            {
                _embedding.Launch(stream, ids, _device.Wte.View, _zeroRow.View, _device.EmbeddingFormat, _embeddings.View, rows, seqLen: 1, d);
                embeddings = _embeddings.View;
            }
            _gemm.Launch(stream, embeddings, directions.View, _zeroBias.View, _y.View, rows, d, n, gelu: false);
            _select(stream, Segments * n, _y.View, outHigh.View, outLow.View, chunk);
            stream.Synchronize();
            chunkDone?.Invoke();
        }
        var result = new RelatedLayer(layer, n, top);
        result.Fill(RelatedList.InputPositive, new TokenTopK(inHigh.GetAsArray1D(), top), high: true);
        result.Fill(RelatedList.InputNegative, new TokenTopK(inLow.GetAsArray1D(), top), high: false);
        result.Fill(RelatedList.OutputPositive, new TokenTopK(outHigh.GetAsArray1D(), top), high: true);
        result.Fill(RelatedList.OutputNegative, new TokenTopK(outLow.GetAsArray1D(), top), high: false);
        return result;
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Upload(ReadOnlySpan<float> host) => _accelerator.Upload(host);

    public void Dispose()
    {
        foreach (var b in new MemoryBuffer[] { _tokenIds, _zeroRow, _zeroBias, _input, _normed, _embeddings, _y }) b.Dispose();
        _device.Dispose();
        if (_context is not null)
        {
            _accelerator.Dispose();
            _context.Dispose();
        }
    }
}

/// <summary>
/// `engine related` on a `--device` (<see cref="DeviceSelection"/>): `cpu` (managed) or the ILGPU path; its GEMMs in
/// <paramref name="precision"/> as the forward pass's (tf32/bf16: tensor cores on CUDA sm_80+, emulated on `cpu` and, with
/// 32-lane warps, on `ilgpu-cpu`).
/// </summary>
public static class RelatedDevices
{
    public static IRelatedTokensDevice Create(string name, Gpt2Weights weights, RelatedDefinition definition, bool withPositionZero,
        MatMulPrecision precision = MatMulPrecision.Fp32) =>
        DeviceSelection.Create<IRelatedTokensDevice>(name,
            () => new CpuRelatedTokens(weights, definition, withPositionZero, precision: precision),
            (kind, context, accelerator) => new IlgpuRelatedTokens(kind, context, accelerator, weights, definition, withPositionZero,
                precision, chunkRows: accelerator.AcceleratorType == AcceleratorType.CPU ? 2048 : 8192),
            tensorCoreEmulation: precision != MatMulPrecision.Fp32);
}
