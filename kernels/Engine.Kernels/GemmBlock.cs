using System.Runtime.CompilerServices;
using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// The 8×8 outputs one GEMM thread owns, as 64 float fields: ILGPU keeps a structure value that is only copied, read
/// and written field by field in registers (an array, even LocalMemory, would live in local memory). Rows
/// r = 0..3 are the thread's rows ty·4 + r, rows 4..7 are Tile/2 + ty·4 + (r − 4); columns likewise with tx
/// (see <see cref="GemmKernel"/>).
/// </summary>
internal struct GemmBlock
{
    public float C00, C01, C02, C03, C04, C05, C06, C07;
    public float C10, C11, C12, C13, C14, C15, C16, C17;
    public float C20, C21, C22, C23, C24, C25, C26, C27;
    public float C30, C31, C32, C33, C34, C35, C36, C37;
    public float C40, C41, C42, C43, C44, C45, C46, C47;
    public float C50, C51, C52, C53, C54, C55, C56, C57;
    public float C60, C61, C62, C63, C64, C65, C66, C67;
    public float C70, C71, C72, C73, C74, C75, C76, C77;

    /// <summary>
    /// One rank-1 update of the block by slice row kk: C[r][c] += a[r]·b[c], with a = (aL, aH) the thread's 8 values of
    /// x[rows, kk] and b = (bL, bH) its 8 values of W[kk, cols]. Called once per k in ascending order, so each output
    /// is one multiply-add chain over k = 0, 1, …, K−1 (the order of CpuMath.MatMulBias). `c += a·b` is a plain
    /// multiply and add: ILGPU 1.5.3 has no float FMA intrinsic (MathF.FusedMultiplyAdd becomes a call to an
    /// undefined extern in PTX), but it emits mul.f32/add.f32 without rounding modifiers, which ptxas contracts into
    /// FFMA (its default --fmad=true) — one rounding, as on the CPU.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static GemmBlock Rank1(GemmBlock c, GemmKernel.Vec4 aL, GemmKernel.Vec4 aH, GemmKernel.Vec4 bL, GemmKernel.Vec4 bH)
    {
        c.C00 += aL.X * bL.X; c.C01 += aL.X * bL.Y; c.C02 += aL.X * bL.Z; c.C03 += aL.X * bL.W;
        c.C04 += aL.X * bH.X; c.C05 += aL.X * bH.Y; c.C06 += aL.X * bH.Z; c.C07 += aL.X * bH.W;
        c.C10 += aL.Y * bL.X; c.C11 += aL.Y * bL.Y; c.C12 += aL.Y * bL.Z; c.C13 += aL.Y * bL.W;
        c.C14 += aL.Y * bH.X; c.C15 += aL.Y * bH.Y; c.C16 += aL.Y * bH.Z; c.C17 += aL.Y * bH.W;
        c.C20 += aL.Z * bL.X; c.C21 += aL.Z * bL.Y; c.C22 += aL.Z * bL.Z; c.C23 += aL.Z * bL.W;
        c.C24 += aL.Z * bH.X; c.C25 += aL.Z * bH.Y; c.C26 += aL.Z * bH.Z; c.C27 += aL.Z * bH.W;
        c.C30 += aL.W * bL.X; c.C31 += aL.W * bL.Y; c.C32 += aL.W * bL.Z; c.C33 += aL.W * bL.W;
        c.C34 += aL.W * bH.X; c.C35 += aL.W * bH.Y; c.C36 += aL.W * bH.Z; c.C37 += aL.W * bH.W;
        c.C40 += aH.X * bL.X; c.C41 += aH.X * bL.Y; c.C42 += aH.X * bL.Z; c.C43 += aH.X * bL.W;
        c.C44 += aH.X * bH.X; c.C45 += aH.X * bH.Y; c.C46 += aH.X * bH.Z; c.C47 += aH.X * bH.W;
        c.C50 += aH.Y * bL.X; c.C51 += aH.Y * bL.Y; c.C52 += aH.Y * bL.Z; c.C53 += aH.Y * bL.W;
        c.C54 += aH.Y * bH.X; c.C55 += aH.Y * bH.Y; c.C56 += aH.Y * bH.Z; c.C57 += aH.Y * bH.W;
        c.C60 += aH.Z * bL.X; c.C61 += aH.Z * bL.Y; c.C62 += aH.Z * bL.Z; c.C63 += aH.Z * bL.W;
        c.C64 += aH.Z * bH.X; c.C65 += aH.Z * bH.Y; c.C66 += aH.Z * bH.Z; c.C67 += aH.Z * bH.W;
        c.C70 += aH.W * bL.X; c.C71 += aH.W * bL.Y; c.C72 += aH.W * bL.Z; c.C73 += aH.W * bL.W;
        c.C74 += aH.W * bH.X; c.C75 += aH.W * bH.Y; c.C76 += aH.W * bH.Z; c.C77 += aH.W * bH.W;
        return c;
    }

    /// <summary>
    /// Four consecutive slice rows kk = 0..3 of the shared tiles as seen from <paramref name="aT"/>,
    /// <paramref name="bT"/>: per row one 128-bit read each of aL, aH (As row kk at the thread's float4 and Tile/8
    /// float4s on) and bL, bH (Bs likewise), then a rank-1 update — 64 FFMA per 4 LDS.128. Written out (ILGPU 1.5.3
    /// unrolls no loop) so ptxas can schedule the reads of later rows under the FMAs of earlier ones. The views start
    /// at the thread's float4 of row 0, so every index here is a compile-time constant: each read is one LDS.128 with
    /// an immediate offset. (Indexing the whole tile with thread + constant makes ILGPU widen the sum to 64 bits per
    /// read — mul.wide.u32 of (i + c) — which ptxas cannot fold: an IADD and a LEA per read.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static GemmBlock Rows4(GemmBlock c, ArrayView<GemmKernel.Vec4> aT, ArrayView<GemmKernel.Vec4> bT,
        int strideA4, int strideB4, int half4)
    {
        c = Rank1(c, aT[0], aT[half4], bT[0], bT[half4]);
        c = Rank1(c, aT[1 * strideA4], aT[1 * strideA4 + half4], bT[1 * strideB4], bT[1 * strideB4 + half4]);
        c = Rank1(c, aT[2 * strideA4], aT[2 * strideA4 + half4], bT[2 * strideB4], bT[2 * strideB4 + half4]);
        c = Rank1(c, aT[3 * strideA4], aT[3 * strideA4 + half4], bT[3 * strideB4], bT[3 * strideB4 + half4]);
        return c;
    }

    /// <summary>
    /// Epilogue: y[row, col] = act(C + bias[col]) for the thread's 8 rows (row0 + {0..3}, row0 + Tile/2 + {0..3}) and
    /// 8 columns (colL + {0..3}, colL + Tile/2 + {0..3}); act = GELU when <paramref name="gelu"/> ≠ 0. Rows ≥ M and
    /// columns ≥ N are outside y and skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(GemmBlock c, ArrayView<float> y, ArrayView<float> bias, int row0, int colL, int half, int m, int n, int gelu)
    {
        int colH = colL + half;
        var biasL = LoadBias(bias, colL, n);
        var biasH = LoadBias(bias, colH, n);
        StoreRow(y, row0 + 0, m, n, colL, colH, biasL, biasH, c.C00, c.C01, c.C02, c.C03, c.C04, c.C05, c.C06, c.C07, gelu);
        StoreRow(y, row0 + 1, m, n, colL, colH, biasL, biasH, c.C10, c.C11, c.C12, c.C13, c.C14, c.C15, c.C16, c.C17, gelu);
        StoreRow(y, row0 + 2, m, n, colL, colH, biasL, biasH, c.C20, c.C21, c.C22, c.C23, c.C24, c.C25, c.C26, c.C27, gelu);
        StoreRow(y, row0 + 3, m, n, colL, colH, biasL, biasH, c.C30, c.C31, c.C32, c.C33, c.C34, c.C35, c.C36, c.C37, gelu);
        StoreRow(y, row0 + half + 0, m, n, colL, colH, biasL, biasH, c.C40, c.C41, c.C42, c.C43, c.C44, c.C45, c.C46, c.C47, gelu);
        StoreRow(y, row0 + half + 1, m, n, colL, colH, biasL, biasH, c.C50, c.C51, c.C52, c.C53, c.C54, c.C55, c.C56, c.C57, gelu);
        StoreRow(y, row0 + half + 2, m, n, colL, colH, biasL, biasH, c.C60, c.C61, c.C62, c.C63, c.C64, c.C65, c.C66, c.C67, gelu);
        StoreRow(y, row0 + half + 3, m, n, colL, colH, biasL, biasH, c.C70, c.C71, c.C72, c.C73, c.C74, c.C75, c.C76, c.C77, gelu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static GemmKernel.Vec4 LoadBias(ArrayView<float> bias, int col, int n)
    {
        GemmKernel.Vec4 v;
        v.X = col < n ? bias[col] : 0f;
        v.Y = col + 1 < n ? bias[col + 1] : 0f;
        v.Z = col + 2 < n ? bias[col + 2] : 0f;
        v.W = col + 3 < n ? bias[col + 3] : 0f;
        return v;
    }

    /// <summary>One output row of a thread: 4 columns at colL, 4 at colH, each + bias, then GELU if asked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(
        ArrayView<float> y, int row, int m, int n, int colL, int colH, GemmKernel.Vec4 bL, GemmKernel.Vec4 bH,
        float c0, float c1, float c2, float c3, float c4, float c5, float c6, float c7, int gelu)
    {
        if (row >= m) return;
        int o = row * n;
        StoreOne(y, o, colL, n, c0 + bL.X, gelu);
        StoreOne(y, o, colL + 1, n, c1 + bL.Y, gelu);
        StoreOne(y, o, colL + 2, n, c2 + bL.Z, gelu);
        StoreOne(y, o, colL + 3, n, c3 + bL.W, gelu);
        StoreOne(y, o, colH, n, c4 + bH.X, gelu);
        StoreOne(y, o, colH + 1, n, c5 + bH.Y, gelu);
        StoreOne(y, o, colH + 2, n, c6 + bH.Z, gelu);
        StoreOne(y, o, colH + 3, n, c7 + bH.W, gelu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOne(ArrayView<float> y, int rowOffset, int col, int n, float v, int gelu)
    {
        if (col < n) y[rowOffset + col] = gelu != 0 ? GeluMath.Gelu(v) : v;
    }
}
