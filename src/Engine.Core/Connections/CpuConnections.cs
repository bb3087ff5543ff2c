using NeuronEngine.Cpu;
using NeuronEngine.Forward;
using NeuronEngine.Model;
using NeuronEngine.Related;

namespace NeuronEngine.Connections;

/// <summary>
/// `engine connections` on the managed `cpu` device: per layer pair, the product c_proj(source) · A(target) with
/// A = diag(ln_2.g)·c_fc (<see cref="RelatedMath.InputDirections"/>) by <see cref="CpuMath.MatMulBias(float*, float*, float*, float*, int, int, int, bool, MatMulPrecision)"/>
/// (the forward pass's GEMM, in its <paramref name="precision"/>), <see cref="ChunkRows"/> source neurons at a time, each
/// [rows, N] block offered by columns to the target's upstream lists and by rows to the source's downstream lists
/// (<see cref="TokenTopK.OfferStrided"/>).
/// </summary>
public sealed unsafe class CpuConnections(Gpt2Weights weights, int chunkRows = 1024, MatMulPrecision precision = MatMulPrecision.Fp32) : IConnectionsDevice
{
    public string Name => "cpu";
    public int ChunkRows { get; } = chunkRows > 0 ? chunkRows : throw new ArgumentOutOfRangeException(nameof(chunkRows));

    public void Row(int source, IReadOnlyList<int> targets, int top, TopAndBottom? downstream, Func<int, TopAndBottom?> upstream, Action? pairDone = null)
    {
        var c = weights.Config;
        int d = c.NEmbd, n = c.DMlp, rowsPerChunk = Math.Min(ChunkRows, n);
        var y = GC.AllocateUninitializedArray<float>(rowsPerChunk * n, pinned: true);
        var zeros = new float[n];
        float* output = weights.FloatPointer($"h.{source}.mlp.c_proj.weight"); // [N, d]: row n₁ is the neuron's output direction
        foreach (int target in targets)
        {
            var up = upstream(target);
            var input = RelatedMath.InputDirections(weights, target);
            fixed (float* py = y, pa = input, pz = zeros)
                for (int r0 = 0; r0 < n; r0 += rowsPerChunk)
                {
                    int rows = Math.Min(rowsPerChunk, n - r0);
                    CpuMath.MatMulBias(output + (long)r0 * d, pa, pz, py, rows, d, n, gelu: false, precision);
                    if (up is not null)
                        TokenTopK.OfferStrided(py, rows, n, n, 1, ConnectionsLayer.Id(source, r0, n), 0, up.High, up.Low);
                    if (downstream is not null)
                        TokenTopK.OfferStrided(py, n, rows, 1, n, ConnectionsLayer.Id(target, 0, n), r0, downstream.High, downstream.Low);
                }
            pairDone?.Invoke();
        }
    }

    public void Dispose() { }
}
