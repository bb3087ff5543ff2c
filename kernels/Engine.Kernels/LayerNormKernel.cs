using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// LayerNorm over rows of length d, biased variance:
///   mean = Σx/d,  var = Σ(x − mean)²/d,  y = (x − mean)/√(var + ε)·γ + β
/// One group per row; each thread strides over the row (i = tid, tid + group, …), so any d works, including d not a
/// multiple of the group size and d smaller than the group. Two passes: the mean first, then the squared deviations
/// from it. The one-pass Σx² − (Σx)²/d cancels catastrophically when |mean| ≫ std, which GPT-2's residual stream
/// has in a few channels; the second pass re-reads the row from global memory, which is served by L1/L2 (a row is
/// 3–6 KB) and costs far less than shared-memory staging would complicate the kernel.
/// Partial sums are float per thread (≤ d/group terms each) and a tree across threads: the rounding error is a few
/// ulp of the result, against the CPU reference that sums in double.
/// </summary>
public static class LayerNormKernel
{
    /// <summary>
    /// Explicitly grouped: grid = rows; the group as <typeparamref name="TSum"/> allows (whole warps with shuffles, up to
    /// 256 threads with the shared-memory tree). Both sum in the same order (<see cref="IGroupSum"/>).
    /// </summary>
    public static void Forward<TSum>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> gamma, ArrayView<float> beta,
        int d, float eps) where TSum : struct, IGroupSum
    {
        // Two scratch arrays, so the second reduction cannot overwrite partial sums a slow thread is still reading.
        var meanScratch = SharedMemory.Allocate<float>(default(TSum).ScratchFloats);
        var varScratch = SharedMemory.Allocate<float>(default(TSum).ScratchFloats);
        long row = (long)Grid.IdxX * d;
        int tid = Group.IdxX, stride = Group.DimX;

        float sum = 0;
        for (int i = tid; i < d; i += stride) sum += x[row + i];
        float mean = default(TSum).Sum(sum, meanScratch) / d;

        float sq = 0;
        for (int i = tid; i < d; i += stride)
        {
            float c = x[row + i] - mean;
            sq = DeviceMath.MulAdd(c, c, sq);
        }
        float variance = default(TSum).Sum(sq, varScratch) / d;
        // Correctly rounded sqrt and division (sqrt.rn / div.rn in PTX), not rsqrt.approx: the result must match the
        // CPU to ~1e-6 relative.
        float rstd = 1f / MathF.Sqrt(variance + eps);

        for (int i = tid; i < d; i += stride)
            y[row + i] = (x[row + i] - mean) * rstd * gamma[i] + beta[i];
    }
}
