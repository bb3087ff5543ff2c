using System.Runtime.CompilerServices;
using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// A GEMM tile configuration, read inside the kernel through <c>default(TTile)</c>: ILGPU inlines the getters, so
/// every size derived from it is a constant of the specialised kernel (loop bounds, strides, shared-memory sizes).
/// </summary>
public interface IGemmTile
{
    /// <summary>Output tile of one group: Tile × Tile elements, 64 or 128; (Tile/8)² threads.</summary>
    int Tile { get; }

    /// <summary>
    /// Depth of one shared-memory slice of the reduction dimension (one pair of barriers): a multiple of Tile/8 and of
    /// 8. One staging pass moves StageK = Tile/8 slice rows (8 x values and 8 W values per thread: Tile·StageK =
    /// 8·threads), so a slice takes TileK/StageK passes; the multiply walks it 8 rows per trip. Deeper slices spread
    /// the per-slice cost (barriers, loop control) over more FMAs but take more shared memory.
    /// </summary>
    int TileK { get; }
}

/// <summary>
/// 128×128 outputs per group, 256 threads (16×16, 8×8 outputs each), 32-deep K slices (two staging passes, 33.3 KB of
/// shared memory; 64 deep would exceed ILGPU's 48 KB of static shared memory): for large M·N.
/// </summary>
public struct GemmTile128 : IGemmTile
{
    public readonly int Tile => 128;
    public readonly int TileK => 32;
}

/// <summary>
/// 64×64 outputs per group, 64 threads (8×8, 8×8 outputs each), 48-deep K slices (six staging passes, 25.3 KB): four
/// times as many groups, for shapes whose 128-tile grid would leave multiprocessors idle (few rows, or N = 768). Its
/// threads stage twice the data per FMA of the 128 tile's, hence the deeper slice (32 deep: 83.6% FFMA per slice in
/// the SASS, 48: 85.3%; 768 and 3072 are multiples of 48).
/// </summary>
public struct GemmTile64 : IGemmTile
{
    public readonly int Tile => 64;
    public readonly int TileK => 48;
}

/// <summary>
/// y[M,N] = x[M,K]·W[K,N] + bias[N], optionally followed by GPT-2's tanh GELU, on row-major x, y and Conv1D-layout
/// W ([in, out] row-major). Correct for any M, N, K ≥ 0: loads past K read 0; rows past M and columns past N read 0 or
/// (128-bit path) the last row or column again, and their outputs are not stored.
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

    /// <summary>
    /// a / d and a mod d for a ≥ 0 and a constant power of two d ≤ 256, as a shift and a mask (Log2 folds at
    /// compile time). C#'s / and % by a constant become div/rem by an immediate in ILGPU's PTX, which ptxas 11.8
    /// assembles as a full reciprocal division (I2F, MUFU.RCP, IMAD.HI, …, ~15 instructions), even for unsigned
    /// operands and powers of two; nvcc never emits those, so ptxas does not strength-reduce them.
    /// </summary>
    internal static int Div(int a, int d) => a >> Log2(d);

    /// <inheritdoc cref="Div"/>
    internal static int Mod(int a, int d) => a & (d - 1);

    private static int Log2(int d) =>
        d >= 256 ? 8 : d >= 128 ? 7 : d >= 64 ? 6 : d >= 32 ? 5 : d >= 16 ? 4 : d >= 8 ? 3 : d >= 4 ? 2 : d >= 2 ? 1 : 0;

    /// <summary>
    /// Four floats moved with one 128-bit load or store (ld.shared.v4.f32, st.shared.v4.f32, ld.global.v4.f32) where
    /// ILGPU can prove 16-byte alignment: elements of a view cast to Vec4 (a sub-view of it by a float offset is not).
    /// </summary>
    public struct Vec4
    {
        public float X, Y, Z, W;
    }

    /// <summary>
    /// y[r, c] = act(Σ_{i&lt;K} x[r, i]·W[i, c] + bias[c]), act = GELU(v) = 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³)))
    /// when <paramref name="gelu"/> ≠ 0, else identity. Each sum is one multiply-add chain over i = 0, 1, …, K−1
    /// (the order of CpuMath.MatMulBias; fused into FMAs by ptxas on a GPU), then + bias.
    /// <para>
    /// Launch with a 1-D group of ThreadsPerGroup&lt;TTile&gt;() threads and a grid of (⌈N/Tile⌉, ⌈M/Tile⌉).
    /// Group (gx, gy) computes the Tile×Tile output block at rows gy·Tile, columns gx·Tile. Per K slice of depth
    /// TileK it stages x[rows, slice] transposed (As[k][row]) and W[slice, cols] (Bs[k][col]) in shared memory
    /// (<see cref="GemmStager"/>; TStaging picks 128-bit or guarded 32-bit global loads); each thread then reads 4+4 x
    /// values and 4+4 W values per k with four 128-bit loads and does 64 FMAs (<see cref="GemmBlock.Rows4"/>): per
    /// slice 64·TileK FFMAs, 4·TileK LDS.128, the staging, two barriers.
    /// A thread's rows are ty·4 + {0..3} and Tile/2 + ty·4 + {0..3} (columns likewise with tx): split in two
    /// 4-wide halves rather than 8 contiguous so that the threads of a warp sharing a ty read consecutive float4s
    /// of a Bs row (16 × 16 B = 256 B, conflict-free), while their As reads are broadcasts (one address per ty).
    /// </para>
    /// <para>
    /// Registers: 64 accumulators + 16 operands (+16 when ptxas reads a row ahead) + addressing; staged values live
    /// only from their load to their store. Two groups of the 128 tile per multiprocessor need ≤ 128 registers
    /// (65536 / (2·256)); ptxas 11.8 uses 122 with the catalogue's .maxntid bound alone (docs/ptx-report.md), so two
    /// groups (16 warps) share a multiprocessor: while one waits for its slice's global loads or at a barrier, the
    /// other's FMAs run. There is no register prefetch of the next slice: ILGPU places a load right before its first
    /// use, which for a prefetched value is after the multiply, and 16 more live registers made ptxas spill.
    /// </para>
    /// </summary>
    /// <remarks>Indices are 32-bit: the launcher ensures (M + Tile)·K, K·N and M·N fit in an int.</remarks>
    public static void Gemm<TTile, TStaging>(
        ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y, int m, int k, int n, int gelu)
        where TTile : struct, IGemmTile where TStaging : struct, IGemmStaging
    {
        int tile = default(TTile).Tile, tileK = default(TTile).TileK;
        int stageK = tile / RegisterBlock;         // slice rows per staging pass = threads per row of the thread grid
        int strideA = tile + Pad, strideA4 = strideA / 4, strideB4 = tile / 4;

        // Constant sizes after specialisation: 32·132 + 32·128 floats = 33.3 KB (128 tile), 48·68 + 48·64 = 25.3 KB (64).
        var sa = SharedMemory.Allocate<float>(tileK * strideA);
        var sb = SharedMemory.Allocate<float>(tileK * tile);

        int tid = Group.IdxX;
        int tx = Mod(tid, stageK), ty = Div(tid, stageK);
        int rowBlock = Grid.IdxY * tile, colBlock = Grid.IdxX * tile;
        var stager = GemmStager.Create<TTile, TStaging>(tid, rowBlock, colBlock, m, k, n);
        // Views starting at this thread's places, taken once: every shared-memory index below is then a constant (an
        // immediate offset of LDS/STS) instead of thread + constant (an add and a 64-bit widening each).
        var aT = sa.Cast<Vec4>().SubView(ty);
        var bT = sb.Cast<Vec4>().SubView(tx);
        var saT = sa.SubView(stager.SAIdx);
        var sbT = sb.SubView(stager.SBIdx);
        var sbT4 = sb.Cast<Vec4>().SubView(stager.SBIdx >> 2);   // used when vectorised; SBIdx is then a multiple of 4

        GemmBlock c = default;
        for (int k0 = 0; k0 < k; k0 += tileK)
        {
            // Stage the slice in TileK / StageK passes, a loop so that one pass's 16 values are live at a time. Only
            // the last slice can reach past K; the others stage without the k ≥ K tests (a uniform branch).
            bool last = k0 + tileK > k;
            for (int p = 0; p < tileK; p += stageK)
            {
                var sa1 = saT.SubView(p * strideA);
                var sb1 = sbT.SubView(p * tile);
                var sb14 = sbT4.SubView(p * strideB4);
                if (last) Stage<TTile, TStaging>(stager, x, w, k0 + p, k, n, sa1, sb1, sb14, lastSlice: true);
                else Stage<TTile, TStaging>(stager, x, w, k0 + p, k, n, sa1, sb1, sb14, lastSlice: false);
            }
            Group.Barrier();

            // Rows in ascending k, 8 per trip (ra, rb: float4 offsets of the trip's first row in As and Bs; stepping
            // them saves the multiplies by the strides). This must stay a loop: ILGPU moves each shared-memory load
            // down to its first use, and in straight-line code that is past the barrier below, where the next slice
            // overwrites the tile; a loop body is a block of its own, which the loads do not leave.
            for (int ra = 0, rb = 0; ra < tileK * strideA4; ra += 8 * strideA4, rb += 8 * strideB4)
            {
                var aR = aT.SubView(ra);
                var bR = bT.SubView(rb);
                c = GemmBlock.Rows4(c, aR, bR, strideA4, strideB4, stageK);
                c = GemmBlock.Rows4(c, aR.SubView(4 * strideA4), bR.SubView(4 * strideB4), strideA4, strideB4, stageK);
            }
            Group.Barrier();
        }

        GemmBlock.Store(c, y, bias, rowBlock + ty * 4, colBlock + tx * 4, tile / 2, m, n, gelu);
    }

    /// <summary>One staging pass: the thread's 8 x and 8 W values of slice rows [k0, k0 + Tile/8) into shared memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Stage<TTile, TStaging>(GemmStager stager, ArrayView<float> x, ArrayView<float> w, int k0, int k, int n,
        ArrayView<float> saT, ArrayView<float> sbT, ArrayView<Vec4> sbT4, bool lastSlice)
        where TTile : struct, IGemmTile where TStaging : struct, IGemmStaging
    {
        GemmStager.StoreX<TTile, TStaging>(stager, GemmStager.LoadX<TStaging>(stager, x, k0, k, lastSlice), saT);
        GemmStager.StoreW<TTile, TStaging>(stager, GemmStager.LoadW<TStaging>(stager, w, k0, k, n, lastSlice), sbT, sbT4);
    }
}
