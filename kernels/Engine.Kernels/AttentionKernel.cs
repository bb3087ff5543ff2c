using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>Shape of one attention launch (passed by value into the kernel).</summary>
/// <param name="SeqLen">T, tokens per sequence (≤ n_positions).</param>
/// <param name="D">Model width d; qkv rows are 3d wide, output rows d wide.</param>
/// <param name="Heads">Number of heads; head h owns columns h·dh … (h+1)·dh − 1 of q, k, v and the output.</param>
/// <param name="HeadDim">dh = d / heads.</param>
/// <param name="Tile">Queries per group and keys per shared-memory tile.</param>
/// <param name="Scale">1/√dh.</param>
public readonly record struct AttentionShape(int SeqLen, int D, int Heads, int HeadDim, int Tile, float Scale)
{
    /// <summary>Floats of dynamic shared memory a group needs (see the layout in <see cref="AttentionKernel"/>).</summary>
    public static int SharedFloats(int tile, int headDim) =>
        tile * headDim              // Q tile
        + tile * (headDim + 1)      // K tile, rows padded by one float
        + tile * headDim            // V tile
        + tile * headDim            // output accumulators
        + tile * (tile + 1)         // scores / probabilities, rows padded by one float
        + 3 * tile;                 // running max, running sum, rescale factor per query row
}

/// <summary>
/// Causal multi-head attention over qkv [B·T, 3d] (row = q | k | v, head h at columns h·dh … within each):
///   out[b, t, h·dh + i] = Σ_{s ≤ t} softmax_s(q_t·k_s/√dh) · v_s[i]
/// Structure (flash-attention style, fp32 throughout): one group per (sequence b, head h, block of Tile queries).
/// The group keeps its Tile×dh queries in shared memory and walks the key blocks 0 … its own block (causality:
/// later keys are never loaded). Per key block: stage K and V in shared memory, compute the Tile×Tile scores, update
/// an online softmax per query row (running max m, running sum l; earlier accumulators are rescaled by
/// exp(m_old − m_new), so the softmax is shifted by its maximum as in the reference and never overflows), then
/// accumulate P·V into the output accumulators. Memory traffic is O(T·dh) per group instead of materialising the
/// T×T score matrix in global memory, and only the diagonal block needs masking.
///
/// Work inside a group is by flat index (e = tid, tid + group, …), so any dh, any T (T = 1, T not a multiple of
/// Tile: padded query rows compute harmlessly and are not written; key rows past T load as zeros and are masked) and
/// any group size work. Shared-memory layout (dynamic, <see cref="AttentionShape.SharedFloats"/> floats):
/// Q [Tile][dh] | K [Tile][dh+1] | V [Tile][dh] | O [Tile][dh] | S [Tile][Tile+1] | m [Tile] | l [Tile] | α [Tile].
/// The +1 paddings avoid shared-memory bank conflicts: in the score step the lanes of a warp read K rows j, j+1, …
/// at the same column (stride dh would put them all in one bank when dh is a multiple of 32); in the softmax step
/// the lanes read S rows r, r+1, … at the same column.
///
/// exp is <see cref="DeviceMath.Exp"/> (≤ ~2 ulp, plain float arithmetic), not MathF.Exp: in ILGPU 1.5.3 MathF.Exp
/// has no PTX lowering without ILGPU.Algorithms, which would map it to ex2.approx.f32 (a few ulp). No tanh here.
/// </summary>
public static class AttentionKernel
{
    /// <summary>Explicitly grouped: grid = B · heads · ⌈T / Tile⌉, any group size, dynamic shared memory as above.</summary>
    public static void Forward(ArrayView<float> qkv, ArrayView<float> output, AttentionShape shape)
    {
        int tile = shape.Tile, dh = shape.HeadDim, seqLen = shape.SeqLen, d = shape.D;
        int queryBlocks = (seqLen + tile - 1) / tile;
        int bh = Grid.IdxX / queryBlocks;
        // The latest query blocks have the most key blocks: hand them out first so the long groups start early.
        int qb = queryBlocks - 1 - (Grid.IdxX - bh * queryBlocks);
        int b = bh / shape.Heads, h = bh - b * shape.Heads;
        int q0 = qb * tile;
        long rowStride = 3L * d, firstRow = (long)b * seqLen;
        int column = h * dh;
        int tid = Group.IdxX, threads = Group.DimX;

        int kStride = dh + 1, sStride = tile + 1;
        var shared = SharedMemory.GetDynamic<float>();
        var qs = shared.SubView(0, tile * dh);
        var ks = shared.SubView(tile * dh, tile * kStride);
        var vs = shared.SubView(tile * (dh + kStride), tile * dh);
        var os = shared.SubView(tile * (2 * dh + kStride), tile * dh);
        var ss = shared.SubView(tile * (3 * dh + kStride), tile * sStride);
        var ms = shared.SubView(tile * (3 * dh + kStride + sStride), tile);
        var ls = shared.SubView(tile * (3 * dh + kStride + sStride + 1), tile);
        var alphas = shared.SubView(tile * (3 * dh + kStride + sStride + 2), tile);

        // Queries of this block; rows past T are zeros (computed, never written). Loads are clamped to row T − 1 and
        // the value discarded, rather than skipped, so no address past the tensor is formed even if the compiler
        // turns the select into an unconditional load.
        for (int e = tid; e < tile * dh; e += threads)
        {
            int r = e / dh, c = e - r * dh, t = q0 + r;
            float q = qkv[(firstRow + XMin(t, seqLen - 1)) * rowStride + column + c];
            qs[e] = t < seqLen ? q : 0f;
        }

        for (int kb = 0; kb <= qb; kb++)
        {
            int k0 = kb * tile;
            // Stage K and V; key rows past T (only in the last block) are zeros so 0·V stays finite.
            for (int e = tid; e < tile * dh; e += threads)
            {
                int r = e / dh, c = e - r * dh, s = k0 + r;
                bool inside = s < seqLen;
                long at = (firstRow + XMin(s, seqLen - 1)) * rowStride + column + c;
                float k = qkv[at + d], v = qkv[at + 2 * d];
                ks[r * kStride + c] = inside ? k : 0f;
                vs[e] = inside ? v : 0f;
            }
            Group.Barrier();

            // Scores q_t·k_s/√dh for the visible pairs (s ≤ t, s < T); one sequential multiply-add chain over dh, the order of
            // the CPU reference. Masked entries are left unwritten: the softmax step never reads them.
            for (int e = tid; e < tile * tile; e += threads)
            {
                int r = e / tile, j = e - r * tile, t = q0 + r, s = k0 + j;
                if (s <= t && s < seqLen)
                {
                    // Running indices instead of row·stride + c: ILGPU 1.5.3 re-computes such products inside the loop.
                    float dot = 0f;
                    int qi = r * dh, ki = j * kStride, qEnd = qi + dh;
                    for (; qi < qEnd; qi++, ki++) dot = DeviceMath.MulAdd(qs[qi], ks[ki], dot);
                    ss[r * sStride + j] = dot * shape.Scale;
                }
            }
            Group.Barrier();

            // Online softmax, one thread per query row. Visible keys of row r in this block: j < count, count ≥ 1
            // because k0 ≤ q0 ≤ T − 1 and k0 ≤ q0 ≤ t. Block 0 starts the running max/sum (α = 0 discards nothing:
            // the accumulators are not read in block 0); masked probabilities become exact zeros.
            for (int r = tid; r < tile; r += threads)
            {
                int count = XMin(tile, XMin(q0 + r, seqLen - 1) - k0 + 1);
                int row = r * sStride;
                float max = ss[row];
                for (int j = 1; j < count; j++) max = MathF.Max(max, ss[row + j]);
                float mNew = kb == 0 ? max : MathF.Max(ms[r], max);
                float sum = 0f;
                for (int j = 0; j < count; j++)
                {
                    float p = DeviceMath.Exp(ss[row + j] - mNew);
                    ss[row + j] = p;
                    sum += p;
                }
                for (int j = count; j < tile; j++) ss[row + j] = 0f;
                float alpha = kb == 0 ? 0f : DeviceMath.Exp(ms[r] - mNew);
                ls[r] = kb == 0 ? sum : ls[r] * alpha + sum;
                ms[r] = mNew;
                alphas[r] = alpha;
            }
            Group.Barrier();

            // O = α·O + P·V; in the last (diagonal) block write O / l for the real query rows instead of storing.
            // Each thread owns the same output elements in every block, so O needs no barrier of its own.
            bool last = kb == qb;
            for (int e = tid; e < tile * dh; e += threads)
            {
                int r = e / dh, c = e - r * dh;
                float acc = kb == 0 ? 0f : os[e] * alphas[r];
                int pi = r * sStride, vi = c, pEnd = pi + tile;
                for (; pi < pEnd; pi++, vi += dh) acc = DeviceMath.MulAdd(ss[pi], vs[vi], acc);
                if (!last) os[e] = acc;
                else if (q0 + r < seqLen) output[(firstRow + q0 + r) * d + column + c] = acc / ls[r];
            }
            // The next block overwrites K, V and S, which slower threads may still be reading.
            Group.Barrier();
        }
    }

    private static int XMin(int a, int b) => a < b ? a : b;
}
