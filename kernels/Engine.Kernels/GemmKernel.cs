using System.Runtime.CompilerServices;
using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// A GEMM tile configuration, read inside the kernel through <c>default(TTile)</c>: ILGPU inlines the getters, so
/// every size derived from it is a constant of the specialised kernel (loop bounds, strides, shared-memory sizes).
/// </summary>
public interface IGemmTile
{
    /// <summary>Output tile of one group: Tile × Tile elements, a multiple of 64; (Tile/8)² threads.</summary>
    int Tile { get; }

    /// <summary>
    /// Depth of one shared-memory slice of the reduction dimension; must be Tile/8, so that each thread stages
    /// exactly 8 x values and 8 W values per slice (Tile·TileK = 8·threads).
    /// </summary>
    int TileK { get; }
}

/// <summary>128×128 outputs per group, 256 threads (16×16, 8×8 outputs each), 16-deep K slices: for large M·N.</summary>
public struct GemmTile128 : IGemmTile
{
    public readonly int Tile => 128;
    public readonly int TileK => 16;
}

/// <summary>
/// 64×64 outputs per group, 64 threads (8×8, 8×8 outputs each), 8-deep K slices: four times as many groups, for
/// shapes whose 128-tile grid would leave multiprocessors idle (few rows, or N = 768).
/// </summary>
public struct GemmTile64 : IGemmTile
{
    public readonly int Tile => 64;
    public readonly int TileK => 8;
}

/// <summary>
/// y[M,N] = x[M,K]·W[K,N] + bias[N], optionally followed by GPT-2's tanh GELU, on row-major x, y and Conv1D-layout
/// W ([in, out] row-major). Correct for any M, N, K ≥ 0 (loads out of range read 0, stores out of range are
/// skipped).
/// </summary>
public static class GemmKernel
{
    /// <summary>Each thread owns an 8×8 block of outputs (64 accumulators in registers).</summary>
    public const int RegisterBlock = 8;

    /// <summary>
    /// The transposed x tile is stored with rows of Tile + 4 floats: consecutive k of one x row (what neighbouring
    /// threads load from global memory) then land 4 banks apart instead of on one bank (a 16-way store conflict
    /// becomes 2-way), and rows stay 16-byte aligned for the 128-bit reads of the inner loop.
    /// </summary>
    public const int Pad = 4;

    /// <summary>Threads per group for a tile: (Tile/8)², one thread per 8×8 output block.</summary>
    public static int ThreadsPerGroup<TTile>() where TTile : struct, IGemmTile =>
        default(TTile).Tile / RegisterBlock * (default(TTile).Tile / RegisterBlock);

    /// <summary>Four floats read with one 128-bit shared-memory load (ld.shared.v4.f32) when 16-byte aligned.</summary>
    public struct Vec4
    {
        public float X, Y, Z, W;
    }

    /// <summary>
    /// The 16 x and W values one thread carries from global memory to shared memory per K slice. They are loaded
    /// one slice ahead (before the current slice's FMAs), so global-memory latency hides behind the arithmetic.
    /// </summary>
    private struct Stage
    {
        public float A0, A1, A2, A3, A4, A5, A6, A7, B0, B1, B2, B3, B4, B5, B6, B7;
    }

    /// <summary>
    /// y[r, c] = act(Σ_{i&lt;K} x[r, i]·W[i, c] + bias[c]), act = GELU(v) = 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³)))
    /// when <paramref name="gelu"/> ≠ 0, else identity. Each sum is one multiply-add chain over i = 0, 1, …, K−1
    /// (the order of CpuMath.MatMulBias; fused into FMAs by ptxas on a GPU), then + bias.
    /// <para>
    /// Launch with a 1-D group of ThreadsPerGroup&lt;TTile&gt;() threads and a grid of (⌈N/Tile⌉, ⌈M/Tile⌉).
    /// Group (gx, gy) computes the Tile×Tile output block at rows gy·Tile, columns gx·Tile. Per K slice of depth
    /// TileK it stages x[rows, slice] transposed (As[k][row]) and W[slice, cols] (Bs[k][col]) in shared memory;
    /// each thread then reads 4+4 x values and 4+4 W values per k with four 128-bit loads and does 64 FMAs.
    /// A thread's rows are ty·4 + {0..3} and Tile/2 + ty·4 + {0..3} (columns likewise with tx): split in two
    /// 4-wide halves rather than 8 contiguous so that the threads of a warp sharing a ty read consecutive float4s
    /// of a Bs row (16 × 16 B = 256 B, conflict-free), while their As reads are broadcasts (one address per ty).
    /// </para>
    /// </summary>
    /// <remarks>Indices are 32-bit: the launcher ensures (M + Tile)·K, K·N and M·N fit in an int.</remarks>
    public static void Gemm<TTile>(
        ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y, int m, int k, int n, int gelu)
        where TTile : struct, IGemmTile
    {
        int tile = default(TTile).Tile, tileK = default(TTile).TileK;
        int tpr = tile / RegisterBlock;            // threads per row of the group's thread grid (16 or 8)
        int threads = tpr * tpr;                   // 256 or 64
        int half = tile / 2;
        int strideA = tile + Pad;                  // floats per As row (one k)
        int strideA4 = strideA / 4, strideB4 = tile / 4;

        // Constant sizes after specialisation: 16·132 + 16·128 floats = 16.6 KB (128 tile), 4.2 KB (64 tile).
        var sa = SharedMemory.Allocate<float>(tileK * strideA);
        var sb = SharedMemory.Allocate<float>(tileK * tile);
        var sa4 = sa.Cast<Vec4>();
        var sb4 = sb.Cast<Vec4>();

        int tid = Group.IdxX;
        int tx = tid % tpr, ty = tid / tpr;
        int rowBlock = Grid.IdxY * tile, colBlock = Grid.IdxX * tile;

        // Staging map for x: thread loads column aK of the slice for rows aRow + r·aStep, r = 0..7; 16 (or 8)
        // neighbouring threads read consecutive k of one row (coalesced 64-byte runs).
        int aK = tid % tileK, aRow = tid / tileK, aStep = threads / tileK;
        int aRowsLeft = m - rowBlock - aRow;       // row r is inside x iff r·aStep < aRowsLeft
        int aIdx = (rowBlock + aRow) * k + aK, aStride = aStep * k;
        // Staging map for W: thread loads column bN for slice rows bK + r·bStep; a warp reads 128 consecutive bytes.
        int bN = tid % tile, bK = tid / tile, bStep = threads / tile;
        bool bColOk = colBlock + bN < n;
        int bIdx = bK * n + colBlock + bN, bStride = bStep * n;
        int sAIdx = aK * strideA + aRow, sBIdx = bK * tile + bN;

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c04 = 0f, c05 = 0f, c06 = 0f, c07 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f, c14 = 0f, c15 = 0f, c16 = 0f, c17 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c24 = 0f, c25 = 0f, c26 = 0f, c27 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f, c34 = 0f, c35 = 0f, c36 = 0f, c37 = 0f;
        float c40 = 0f, c41 = 0f, c42 = 0f, c43 = 0f, c44 = 0f, c45 = 0f, c46 = 0f, c47 = 0f;
        float c50 = 0f, c51 = 0f, c52 = 0f, c53 = 0f, c54 = 0f, c55 = 0f, c56 = 0f, c57 = 0f;
        float c60 = 0f, c61 = 0f, c62 = 0f, c63 = 0f, c64 = 0f, c65 = 0f, c66 = 0f, c67 = 0f;
        float c70 = 0f, c71 = 0f, c72 = 0f, c73 = 0f, c74 = 0f, c75 = 0f, c76 = 0f, c77 = 0f;

        var stage = LoadStage(x, w, k, 0, aK, aIdx, aStride, aStep, aRowsLeft, bK, bIdx, bStride, bStep, bColOk, n);
        for (int k0 = 0; k0 < k; k0 += tileK)
        {
            // Publish the staged slice. The barrier at the end of the previous iteration made sure nobody still
            // reads the old one.
            sa[sAIdx] = stage.A0;
            sa[sAIdx + aStep] = stage.A1;
            sa[sAIdx + 2 * aStep] = stage.A2;
            sa[sAIdx + 3 * aStep] = stage.A3;
            sa[sAIdx + 4 * aStep] = stage.A4;
            sa[sAIdx + 5 * aStep] = stage.A5;
            sa[sAIdx + 6 * aStep] = stage.A6;
            sa[sAIdx + 7 * aStep] = stage.A7;
            sb[sBIdx] = stage.B0;
            sb[sBIdx + bStep * tile] = stage.B1;
            sb[sBIdx + 2 * bStep * tile] = stage.B2;
            sb[sBIdx + 3 * bStep * tile] = stage.B3;
            sb[sBIdx + 4 * bStep * tile] = stage.B4;
            sb[sBIdx + 5 * bStep * tile] = stage.B5;
            sb[sBIdx + 6 * bStep * tile] = stage.B6;
            sb[sBIdx + 7 * bStep * tile] = stage.B7;
            Group.Barrier();

            // Prefetch the next slice into registers (all zeros past K) while this one is multiplied.
            stage = LoadStage(x, w, k, k0 + tileK, aK, aIdx, aStride, aStep, aRowsLeft, bK, bIdx, bStride, bStep, bColOk, n);

            // tileK rank-1 updates of the 8×8 block, two per iteration (1.5.3 does not unroll loops). `c += a·b`
            // is written as plain multiply and add: ILGPU 1.5.3 has no float FMA intrinsic (MathF.FusedMultiplyAdd
            // becomes a call to an undefined extern in PTX), but it emits mul.f32/add.f32 without rounding
            // modifiers, which ptxas contracts into FFMA (its default --fmad=true) — one rounding, as on the CPU.
            for (int kk = 0; kk < tileK; kk += 2)
            {
                int pa = kk * strideA4 + ty, pb = kk * strideB4 + tx;
                var aL = sa4[pa];
                var aH = sa4[pa + tpr];            // + Tile/2 floats
                var bL = sb4[pb];
                var bH = sb4[pb + tpr];
                c00 += aL.X * bL.X; c01 += aL.X * bL.Y; c02 += aL.X * bL.Z; c03 += aL.X * bL.W;
                c04 += aL.X * bH.X; c05 += aL.X * bH.Y; c06 += aL.X * bH.Z; c07 += aL.X * bH.W;
                c10 += aL.Y * bL.X; c11 += aL.Y * bL.Y; c12 += aL.Y * bL.Z; c13 += aL.Y * bL.W;
                c14 += aL.Y * bH.X; c15 += aL.Y * bH.Y; c16 += aL.Y * bH.Z; c17 += aL.Y * bH.W;
                c20 += aL.Z * bL.X; c21 += aL.Z * bL.Y; c22 += aL.Z * bL.Z; c23 += aL.Z * bL.W;
                c24 += aL.Z * bH.X; c25 += aL.Z * bH.Y; c26 += aL.Z * bH.Z; c27 += aL.Z * bH.W;
                c30 += aL.W * bL.X; c31 += aL.W * bL.Y; c32 += aL.W * bL.Z; c33 += aL.W * bL.W;
                c34 += aL.W * bH.X; c35 += aL.W * bH.Y; c36 += aL.W * bH.Z; c37 += aL.W * bH.W;
                c40 += aH.X * bL.X; c41 += aH.X * bL.Y; c42 += aH.X * bL.Z; c43 += aH.X * bL.W;
                c44 += aH.X * bH.X; c45 += aH.X * bH.Y; c46 += aH.X * bH.Z; c47 += aH.X * bH.W;
                c50 += aH.Y * bL.X; c51 += aH.Y * bL.Y; c52 += aH.Y * bL.Z; c53 += aH.Y * bL.W;
                c54 += aH.Y * bH.X; c55 += aH.Y * bH.Y; c56 += aH.Y * bH.Z; c57 += aH.Y * bH.W;
                c60 += aH.Z * bL.X; c61 += aH.Z * bL.Y; c62 += aH.Z * bL.Z; c63 += aH.Z * bL.W;
                c64 += aH.Z * bH.X; c65 += aH.Z * bH.Y; c66 += aH.Z * bH.Z; c67 += aH.Z * bH.W;
                c70 += aH.W * bL.X; c71 += aH.W * bL.Y; c72 += aH.W * bL.Z; c73 += aH.W * bL.W;
                c74 += aH.W * bH.X; c75 += aH.W * bH.Y; c76 += aH.W * bH.Z; c77 += aH.W * bH.W;

                aL = sa4[pa + strideA4];
                aH = sa4[pa + strideA4 + tpr];
                bL = sb4[pb + strideB4];
                bH = sb4[pb + strideB4 + tpr];
                c00 += aL.X * bL.X; c01 += aL.X * bL.Y; c02 += aL.X * bL.Z; c03 += aL.X * bL.W;
                c04 += aL.X * bH.X; c05 += aL.X * bH.Y; c06 += aL.X * bH.Z; c07 += aL.X * bH.W;
                c10 += aL.Y * bL.X; c11 += aL.Y * bL.Y; c12 += aL.Y * bL.Z; c13 += aL.Y * bL.W;
                c14 += aL.Y * bH.X; c15 += aL.Y * bH.Y; c16 += aL.Y * bH.Z; c17 += aL.Y * bH.W;
                c20 += aL.Z * bL.X; c21 += aL.Z * bL.Y; c22 += aL.Z * bL.Z; c23 += aL.Z * bL.W;
                c24 += aL.Z * bH.X; c25 += aL.Z * bH.Y; c26 += aL.Z * bH.Z; c27 += aL.Z * bH.W;
                c30 += aL.W * bL.X; c31 += aL.W * bL.Y; c32 += aL.W * bL.Z; c33 += aL.W * bL.W;
                c34 += aL.W * bH.X; c35 += aL.W * bH.Y; c36 += aL.W * bH.Z; c37 += aL.W * bH.W;
                c40 += aH.X * bL.X; c41 += aH.X * bL.Y; c42 += aH.X * bL.Z; c43 += aH.X * bL.W;
                c44 += aH.X * bH.X; c45 += aH.X * bH.Y; c46 += aH.X * bH.Z; c47 += aH.X * bH.W;
                c50 += aH.Y * bL.X; c51 += aH.Y * bL.Y; c52 += aH.Y * bL.Z; c53 += aH.Y * bL.W;
                c54 += aH.Y * bH.X; c55 += aH.Y * bH.Y; c56 += aH.Y * bH.Z; c57 += aH.Y * bH.W;
                c60 += aH.Z * bL.X; c61 += aH.Z * bL.Y; c62 += aH.Z * bL.Z; c63 += aH.Z * bL.W;
                c64 += aH.Z * bH.X; c65 += aH.Z * bH.Y; c66 += aH.Z * bH.Z; c67 += aH.Z * bH.W;
                c70 += aH.W * bL.X; c71 += aH.W * bL.Y; c72 += aH.W * bL.Z; c73 += aH.W * bL.W;
                c74 += aH.W * bH.X; c75 += aH.W * bH.Y; c76 += aH.W * bH.Z; c77 += aH.W * bH.W;
            }
            Group.Barrier();
        }

        // Epilogue: + bias, optional GELU, guarded stores (rows ≥ M or columns ≥ N are outside y).
        int row0 = rowBlock + ty * 4;
        int colL = colBlock + tx * 4, colH = colL + half;
        var biasL = LoadBias(bias, colL, n);
        var biasH = LoadBias(bias, colH, n);
        StoreRow(y, row0 + 0, m, n, colL, colH, biasL, biasH, c00, c01, c02, c03, c04, c05, c06, c07, gelu);
        StoreRow(y, row0 + 1, m, n, colL, colH, biasL, biasH, c10, c11, c12, c13, c14, c15, c16, c17, gelu);
        StoreRow(y, row0 + 2, m, n, colL, colH, biasL, biasH, c20, c21, c22, c23, c24, c25, c26, c27, gelu);
        StoreRow(y, row0 + 3, m, n, colL, colH, biasL, biasH, c30, c31, c32, c33, c34, c35, c36, c37, gelu);
        StoreRow(y, row0 + half + 0, m, n, colL, colH, biasL, biasH, c40, c41, c42, c43, c44, c45, c46, c47, gelu);
        StoreRow(y, row0 + half + 1, m, n, colL, colH, biasL, biasH, c50, c51, c52, c53, c54, c55, c56, c57, gelu);
        StoreRow(y, row0 + half + 2, m, n, colL, colH, biasL, biasH, c60, c61, c62, c63, c64, c65, c66, c67, gelu);
        StoreRow(y, row0 + half + 3, m, n, colL, colH, biasL, biasH, c70, c71, c72, c73, c74, c75, c76, c77, gelu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Stage LoadStage(
        ArrayView<float> x, ArrayView<float> w, int k, int k0,
        int aK, int aIdx, int aStride, int aStep, int aRowsLeft,
        int bK, int bIdx, int bStride, int bStep, bool bColOk, int n)
    {
        Stage s;
        bool aKOk = k0 + aK < k;
        int a = aIdx + k0;
        s.A0 = aKOk && 0 < aRowsLeft ? x[a] : 0f;
        s.A1 = aKOk && aStep < aRowsLeft ? x[a + aStride] : 0f;
        s.A2 = aKOk && 2 * aStep < aRowsLeft ? x[a + 2 * aStride] : 0f;
        s.A3 = aKOk && 3 * aStep < aRowsLeft ? x[a + 3 * aStride] : 0f;
        s.A4 = aKOk && 4 * aStep < aRowsLeft ? x[a + 4 * aStride] : 0f;
        s.A5 = aKOk && 5 * aStep < aRowsLeft ? x[a + 5 * aStride] : 0f;
        s.A6 = aKOk && 6 * aStep < aRowsLeft ? x[a + 6 * aStride] : 0f;
        s.A7 = aKOk && 7 * aStep < aRowsLeft ? x[a + 7 * aStride] : 0f;
        int kLeft = k - k0 - bK;                   // slice row r is inside W iff r·bStep < kLeft
        int b = bIdx + k0 * n;
        s.B0 = bColOk && 0 < kLeft ? w[b] : 0f;
        s.B1 = bColOk && bStep < kLeft ? w[b + bStride] : 0f;
        s.B2 = bColOk && 2 * bStep < kLeft ? w[b + 2 * bStride] : 0f;
        s.B3 = bColOk && 3 * bStep < kLeft ? w[b + 3 * bStride] : 0f;
        s.B4 = bColOk && 4 * bStep < kLeft ? w[b + 4 * bStride] : 0f;
        s.B5 = bColOk && 5 * bStep < kLeft ? w[b + 5 * bStride] : 0f;
        s.B6 = bColOk && 6 * bStep < kLeft ? w[b + 6 * bStride] : 0f;
        s.B7 = bColOk && 7 * bStep < kLeft ? w[b + 7 * bStride] : 0f;
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec4 LoadBias(ArrayView<float> bias, int col, int n)
    {
        Vec4 v;
        v.X = col < n ? bias[col] : 0f;
        v.Y = col + 1 < n ? bias[col + 1] : 0f;
        v.Z = col + 2 < n ? bias[col + 2] : 0f;
        v.W = col + 3 < n ? bias[col + 3] : 0f;
        return v;
    }

    /// <summary>One output row of a thread: 4 columns at colL, 4 at colH, each + bias, then GELU if asked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(
        ArrayView<float> y, int row, int m, int n, int colL, int colH, Vec4 bL, Vec4 bH,
        float c0, float c1, float c2, float c3, float c4, float c5, float c6, float c7, int gelu)
    {
        if (row >= m) return;
        int o = row * n;
        Store(y, o, colL, n, c0 + bL.X, gelu);
        Store(y, o, colL + 1, n, c1 + bL.Y, gelu);
        Store(y, o, colL + 2, n, c2 + bL.Z, gelu);
        Store(y, o, colL + 3, n, c3 + bL.W, gelu);
        Store(y, o, colH, n, c4 + bH.X, gelu);
        Store(y, o, colH + 1, n, c5 + bH.Y, gelu);
        Store(y, o, colH + 2, n, c6 + bH.Z, gelu);
        Store(y, o, colH + 3, n, c7 + bH.W, gelu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ArrayView<float> y, int rowOffset, int col, int n, float v, int gelu)
    {
        if (col < n) y[rowOffset + col] = gelu != 0 ? GeluMath.Gelu(v) : v;
    }
}
