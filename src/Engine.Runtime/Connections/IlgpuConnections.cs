using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Connections;
using NeuronEngine.Forward;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Related;
using NeuronEngine.Runtime.Ops;

namespace NeuronEngine.Runtime.Connections;

/// <summary>
/// `engine connections` on an ILGPU accelerator. Per source layer: its c_proj ([N, d]) uploaded once; per target layer:
/// A = diag(ln_2.g)·c_fc ([d, N], built on the host by <see cref="RelatedMath.InputDirections"/>, uploaded once per run
/// and kept), then per block of <see cref="ChunkRows"/> source neurons the GEMM (<see cref="GemmOp"/>, the forward pass's
/// kernel, in its precision) and the top-k kernel of `engine related` (<see cref="RelatedKernels.SelectTokens"/>) twice:
/// by columns into the target's upstream lists, by rows into the source's downstream lists. Only keys leave the
/// device: the upstream lists ([S, N, top] × 2) after each pair, the downstream ones after each row; the host merges
/// the S segments (<see cref="TokenTopK.OfferSegments"/>). CPU reference: <see cref="CpuConnections"/>.
/// </summary>
public sealed class IlgpuConnections : IConnectionsDevice
{
    private readonly Context? _context;
    private readonly Accelerator _accelerator;
    private readonly Gpt2Weights _weights;
    private readonly GemmOp _gemm;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>, ArrayView<ulong>, TokenChunk> _select;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _zeroBias, _y;
    private readonly Dictionary<int, MemoryBuffer1D<float, Stride1D.Dense>> _inputDirections = [];

    public string Name { get; }
    /// <summary>Source neurons per GEMM (the block is [ChunkRows, N]).</summary>
    public int ChunkRows { get; }
    /// <summary>Threads per neuron in the top-k kernel (their lists are merged on the host).</summary>
    public int Segments { get; }

    /// <summary>Takes ownership of <paramref name="context"/> and <paramref name="accelerator"/> (when the context is given).</summary>
    public IlgpuConnections(string name, Context? context, Accelerator accelerator, Gpt2Weights weights,
        MatMulPrecision precision = MatMulPrecision.Fp32, int chunkRows = 8192, int? segments = null)
    {
        Name = name; _context = context; _accelerator = accelerator; _weights = weights;
        int n = weights.Config.DMlp;
        ChunkRows = Math.Min(chunkRows > 0 ? chunkRows : throw new ArgumentOutOfRangeException(nameof(chunkRows)), n);
        // Enough threads to fill a GPU (≈ 64 K) while each still walks ≥ 256 candidates.
        Segments = segments ?? Math.Clamp(Math.Min(65536 / n, n / 256), 1, 64);
        _gemm = new GemmOp(accelerator, precision);
        _select = KernelCatalog.SelectTokens.Load(accelerator);
        _zeroBias = accelerator.Allocate1D<float>(n);
        _zeroBias.MemSetToZero();
        _y = accelerator.Allocate1D<float>((long)ChunkRows * n);
        accelerator.Synchronize();
    }

    public void Row(int source, IReadOnlyList<int> targets, int top, TopAndBottom? downstream, Func<int, TopAndBottom?> upstream, Action? pairDone = null)
    {
        var c = _weights.Config;
        int d = c.NEmbd, n = c.DMlp;
        var stream = _accelerator.DefaultStream;
        long slots = (long)Segments * n * top;
        using var output = Upload(_weights.Floats($"h.{source}.mlp.c_proj.weight"));
        using var downHigh = _accelerator.Allocate1D<ulong>(downstream is null ? 1 : slots);
        using var downLow = _accelerator.Allocate1D<ulong>(downstream is null ? 1 : slots);
        using var upHigh = _accelerator.Allocate1D<ulong>(slots);
        using var upLow = _accelerator.Allocate1D<ulong>(slots);
        Empty(downHigh, downLow);
        foreach (int target in targets)
        {
            var up = upstream(target);
            if (up is not null) Empty(upHigh, upLow);
            var input = InputDirections(target);
            for (int r0 = 0; r0 < n; r0 += ChunkRows)
            {
                int rows = Math.Min(ChunkRows, n - r0);
                _gemm.Launch(stream, output.View.SubView((long)r0 * d, (long)rows * d), input.View, _zeroBias.View, _y.View, rows, d, n, gelu: false);
                if (up is not null)
                    _select(stream, Segments * n, _y.View, upHigh.View, upLow.View,
                        TokenChunk.Columns(rows, n, ConnectionsLayer.Id(source, r0, n), top, Segments));
                if (downstream is not null)
                    _select(stream, Segments * rows, _y.View, downHigh.View, downLow.View,
                        TokenChunk.RowsOf(rows, n, ConnectionsLayer.Id(target, 0, n), top, Segments, r0, n));
            }
            stream.Synchronize();
            if (up is not null)
            {
                up.High.OfferSegments(upHigh.GetAsArray1D(), Segments);
                up.Low.OfferSegments(upLow.GetAsArray1D(), Segments);
            }
            pairDone?.Invoke();
        }
        if (downstream is not null)
        {
            downstream.High.OfferSegments(downHigh.GetAsArray1D(), Segments);
            downstream.Low.OfferSegments(downLow.GetAsArray1D(), Segments);
        }
    }

    /// <summary>Every slot empty (<see cref="TokenKeys.Empty"/> is all ones).</summary>
    private static void Empty(params MemoryBuffer1D<ulong, Stride1D.Dense>[] buffers)
    {
        foreach (var b in buffers) b.View.MemSet(0xFF);
    }

    private MemoryBuffer1D<float, Stride1D.Dense> InputDirections(int layer)
    {
        if (!_inputDirections.TryGetValue(layer, out var buffer))
            _inputDirections[layer] = buffer = Upload(RelatedMath.InputDirections(_weights, layer));
        return buffer;
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Upload(ReadOnlySpan<float> host) => _accelerator.Upload(host);

    public void Dispose()
    {
        foreach (var b in _inputDirections.Values) b.Dispose();
        _zeroBias.Dispose();
        _y.Dispose();
        if (_context is not null)
        {
            _accelerator.Dispose();
            _context.Dispose();
        }
    }
}

/// <summary>`engine connections` on a `--device` (<see cref="DeviceSelection"/>): `cpu` (managed) or the ILGPU path, its GEMMs in <paramref name="precision"/>.</summary>
public static class ConnectionsDevices
{
    public static IConnectionsDevice Create(string name, Gpt2Weights weights, MatMulPrecision precision = MatMulPrecision.Fp32) =>
        DeviceSelection.Create<IConnectionsDevice>(name,
            () => new CpuConnections(weights, precision: precision),
            (kind, context, accelerator) => new IlgpuConnections(kind, context, accelerator, weights, precision,
                chunkRows: accelerator.AcceleratorType == AcceleratorType.CPU ? 512 : 8192),
            tensorCoreEmulation: precision != MatMulPrecision.Fp32);
}
