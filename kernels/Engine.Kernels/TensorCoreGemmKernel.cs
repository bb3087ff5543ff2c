using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace NeuronEngine.Kernels;

/// <summary>
/// y[M,N] = x[M,K]·W[K,N] + bias[N] (then GPT-2's GELU) on tensor cores: the same contract as <see cref="GemmKernel"/>
/// (row-major x and y, Conv1D-layout W, any M, N, K ≥ 0), with x and W rounded to TF32 or bfloat16
/// (<see cref="MmaRounding"/>, <typeparamref name="TPrecision"/>) and the products summed in float32 by
/// <c>mma.sync</c> (<see cref="TensorCoreMma"/>). Bias, GELU and the output stay float32.
/// <para>
/// A group of 256 threads (8 warps, warp size 32 — CUDA's; ILGPU's CPU accelerator must be created with 32) computes a
/// 128×128 output tile; the warps form a 2×4 grid of 64×32 warp tiles, each 4×4 mma tiles of 16×8 (64 accumulators per
/// thread). Per K slice (32 k for TF32, 64 for bf16: 32 operand words per row either way) the group stages x's rows and
/// W's columns into two shared tiles, already rounded and packed as operand words, then each warp runs 4 k-steps of 16
/// mma (TF32: m16n8k8; bf16: m16n8k16). One loop runs over all k-steps and stages a slice at every 4th (between two
/// barriers): a single loop carries the accumulators, so ptxas keeps them in the HMMA registers.
/// </para>
/// <para>
/// Shared layout, chosen so that every fragment is one shared load, already in register order, without bank conflicts.
/// Word j of a k-step is the instruction's k = j (TF32) or the pair k = 2j, 2j+1 (bf16); lane (g, t) needs words t and
/// t+4 of its rows (A) or column (B). A tile (x): rows r and r + 8 of each 16-row mma tile form a row pair (64 pairs,
/// 80 words apart); per k-step a pair holds 16 words, lane t's four at 4t: [row r w_t, row r+8 w_t, row r w_t+4,
/// row r+8 w_t+4] = A0..A3, one LDS.128 (a quarter-warp's two g start 16 banks apart: no conflict). B tile (W, staged
/// transposed so both operands are read along k): 128 columns 40 words apart; per k-step a column holds 8 words in the
/// order [w0, w4, w1, w5, w2, w6, w3, w7], so B0, B1 are side by side at 2t, one LDS.64 (a half-warp's four g start 0, 8,
/// 16, 24 banks apart: no conflict). The permutations only move words in memory: the instruction's k index is the true k,
/// so each output is the sum over k in ascending order.
/// </para>
/// <para>
/// Staging: each thread converts one 8-word group of a row pair of x (TF32: 8 floats per row, bf16: 16) and one of two
/// adjacent W columns, loading x as float4s and W as float2s (128-/64-bit loads, <see cref="IGemmStaging.Vectorised"/>)
/// or as guarded floats, rounding with cvt.rna.tf32.f32 / cvt.rn.bf16x2.f32 on CUDA (<see cref="MmaRounding"/>), and
/// stores them with 128-bit stores. Values past K are zeros; rows past M and columns past N read zeros (scalar) or the
/// last row/column again (vectorised) and their outputs are not stored. Off CUDA each k-step's 16 mma are emulated
/// together (<see cref="EmulateStep"/>).
/// </para>
/// </summary>
public static class TensorCoreGemmKernel
{
    /// <summary>Output rows and columns of one group.</summary>
    public const int Tile = 128;

    /// <summary>Threads per group: 8 warps of 32.</summary>
    public const int ThreadsPerGroup = 256;

    /// <summary>The warp size the fragment layout is defined for.</summary>
    public const int WarpSize = 32;

    /// <summary>32-bit words between two W columns of the B tile: 32 per slice + 8 of padding (see the class).</summary>
    public const int Stride = 40;

    /// <summary>32-bit words between two row pairs of the A tile: 2 × 32 per slice + 16 of padding (see the class).</summary>
    public const int PairStride = 80;

    private const int Warps = ThreadsPerGroup / WarpSize;

    /// <summary>
    /// Dynamic shared memory a launch must request where <c>CudaAsm.IsSupported</c> is false (the emulation's scratch
    /// tiles, <see cref="TensorCoreMma.EmulationFloatsPerWarp"/> floats per warp); 0 on CUDA.
    /// </summary>
    public const int EmulationSharedFloats = Warps * EmulationFloatsPerWarp;

    /// <summary>Scratch of one warp's emulated k-step: its 4 A tiles, then its 4 B tiles (<see cref="TensorCoreMma"/>).</summary>
    private const int EmulationFloatsPerWarp = 4 * TensorCoreMma.ATileFloats + 4 * TensorCoreMma.BTileFloats;

    /// <summary>The k depth of one shared slice: 32 operand words per row, one TF32 value or two bf16 values each.</summary>
    public static int SliceDepth<TPrecision>() where TPrecision : struct, IMmaPrecision => default(TPrecision).Bf16 ? 64 : 32;

    /// <summary>Two 32-bit words moved by one 64-bit shared load.</summary>
    public struct Word2
    {
        public uint X, Y;
    }

    /// <summary>Four 32-bit words moved by one 128-bit shared store.</summary>
    public struct Word4
    {
        public uint X, Y, Z, W;
    }

    /// <summary>Two floats moved by one 64-bit global load.</summary>
    public struct Vec2
    {
        public float X, Y;
    }

    /// <summary>
    /// The GEMM (see the class). Launch with a 1-D group of <see cref="ThreadsPerGroup"/> threads and a grid of
    /// (⌈N/128⌉, ⌈M/128⌉) on an accelerator whose warps have 32 lanes, requesting <see cref="EmulationSharedFloats"/>
    /// floats of dynamic shared memory where that accelerator is not CUDA. Indices are 32-bit: the launcher ensures
    /// (M + 128)·K, K·N and M·N fit in an int.
    /// </summary>
    public static void Gemm<TPrecision, TStaging>(
        ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y, int m, int k, int n, int gelu)
        where TPrecision : struct, IMmaPrecision where TStaging : struct, IGemmStaging
    {
        int sliceDepth = SliceDepth<TPrecision>();
        var sa = SharedMemory.Allocate<uint>(Tile / 2 * PairStride);   // x row pairs [64][80 words]: 20 KB
        var sb = SharedMemory.Allocate<uint>(Tile * Stride);            // W columns   [128][40 words]: 20 KB

        int tid = Group.IdxX;
        int lane = tid & (WarpSize - 1), warp = tid >> 5;
        int g = lane >> 2, t = lane & 3;
        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 32;
        int rowBlock = Grid.IdxY * Tile, colBlock = Grid.IdxX * Tile;

        // The emulation's per-warp scratch tiles, only where mma.sync is not native: dynamic shared memory, which the
        // launcher requests (EmulationSharedBytes) only there, so that on CUDA it costs nothing (a static allocation in
        // this dead branch would still be reserved: ptxas drops the branch, not the .shared variable).
        var scratch = default(ArrayView<float>);
        if (!CudaAsm.IsSupported)
            scratch = SharedMemory.GetDynamic<float>().SubView(warp * EmulationFloatsPerWarp, EmulationFloatsPerWarp);

        // Fragment views from the lane's first fragment (row pair warpRow/2 + g, words 4t..4t+3 — A0..A3 —; column
        // warpCol + g, words 2t, 2t+1 — B0, B1): every fragment read below is then a constant offset from them (one
        // LDS.128 per A fragment, one LDS.64 per B fragment, with an immediate offset).
        var aT = sa.Cast<Word4>().SubView((warpRow / 2 + g) * (PairStride / 4) + t);
        var bT = sb.Cast<Word2>().SubView((warpCol + g) * (Stride / 2) + t);

        // Staging coordinates: x rows (row pair tid / 4: rows 16·(p / 8) + p % 8 and that + 8), word group tid % 4;
        // W columns 2·(tid % 64) and + 1, word group tid / 64.
        int aPair = tid >> 2, aGroup = tid & 3;
        int aRow = 16 * (aPair >> 3) + (aPair & 7);
        int bPair = tid & 63, bGroup = tid >> 6;
        var sa4 = sa.Cast<Word4>().SubView(aPair * (PairStride / 4) + 4 * aGroup);
        var sb4 = sb.Cast<Word4>().SubView(2 * bPair * (Stride / 4) + 2 * bGroup);

        // One loop over the k-steps of every slice (4 per slice), staging at the first step of each: a single loop
        // carries the 64 accumulators, which ptxas then keeps in the HMMA registers (with the slice loop and the k-step
        // loop nested, it copied them between the loops' registers every slice: ~70 MOVs). The fragment reads stay in
        // the loop body, after the staging's barriers and before the next slice's first barrier, which is what ILGPU's
        // placement of loads at their first use needs (docs/ilgpu.md).
        int steps = 4 * ((k + sliceDepth - 1) >> (sliceDepth == 64 ? 6 : 5));
        TcBlock c = default;
        for (int step = 0; step < steps; step++)
        {
            int sub = step & 3;
            if (sub == 0)
            {
                int k0 = (step >> 2) * sliceDepth;
                Group.Barrier();   // every warp is done reading the previous slice
                if (k0 + sliceDepth > k)
                    Stage<TPrecision, TStaging>(x, w, sa4, sb4, rowBlock + aRow, colBlock + 2 * bPair, aGroup, bGroup, k0, m, k, n, lastSlice: true);
                else
                    Stage<TPrecision, TStaging>(x, w, sa4, sb4, rowBlock + aRow, colBlock + 2 * bPair, aGroup, bGroup, k0, m, k, n, lastSlice: false);
                Group.Barrier();
            }
            // A k-step: 8 words (A: 4 Word4s per row pair, B: 4 Word2s per column).
            c = KStep<TPrecision>(c, aT.SubView(4 * sub), bT.SubView(4 * sub), scratch, lane);
        }

        Store(c, y, bias, rowBlock + warpRow + g, colBlock + warpCol + 2 * t, m, n, gelu);
    }

    /// <summary>
    /// One k-step of a warp: fragments of its 4 A tiles (row pairs +0, +8, +16, +24: rows +0, +16, +32, +48 and each
    /// +8; one LDS.128 each) and 4 B tiles (columns +0, +8, +16, +24; one LDS.64 each), then the 16 mma in a fixed order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TcBlock KStep<TPrecision>(TcBlock c, ArrayView<Word4> aT, ArrayView<Word2> bT, ArrayView<float> scratch, int lane)
        where TPrecision : struct, IMmaPrecision
    {
        const int pair = PairStride / 4, col = Stride / 2;   // Word4s between row pairs, Word2s between columns
        var a0 = A(aT[0]);
        var a1 = A(aT[8 * pair]);
        var a2 = A(aT[16 * pair]);
        var a3 = A(aT[24 * pair]);
        var b0 = B(bT[0]);
        var b1 = B(bT[8 * col]);
        var b2 = B(bT[16 * col]);
        var b3 = B(bT[24 * col]);
        if (!CudaAsm.IsSupported) return EmulateStep(default(TPrecision).Bf16, c, a0, a1, a2, a3, b0, b1, b2, b3, scratch, lane);
        c.T00 = TensorCoreMma.Mma<TPrecision>(c.T00, a0, b0, scratch, lane);
        c.T01 = TensorCoreMma.Mma<TPrecision>(c.T01, a0, b1, scratch, lane);
        c.T02 = TensorCoreMma.Mma<TPrecision>(c.T02, a0, b2, scratch, lane);
        c.T03 = TensorCoreMma.Mma<TPrecision>(c.T03, a0, b3, scratch, lane);
        c.T10 = TensorCoreMma.Mma<TPrecision>(c.T10, a1, b0, scratch, lane);
        c.T11 = TensorCoreMma.Mma<TPrecision>(c.T11, a1, b1, scratch, lane);
        c.T12 = TensorCoreMma.Mma<TPrecision>(c.T12, a1, b2, scratch, lane);
        c.T13 = TensorCoreMma.Mma<TPrecision>(c.T13, a1, b3, scratch, lane);
        c.T20 = TensorCoreMma.Mma<TPrecision>(c.T20, a2, b0, scratch, lane);
        c.T21 = TensorCoreMma.Mma<TPrecision>(c.T21, a2, b1, scratch, lane);
        c.T22 = TensorCoreMma.Mma<TPrecision>(c.T22, a2, b2, scratch, lane);
        c.T23 = TensorCoreMma.Mma<TPrecision>(c.T23, a2, b3, scratch, lane);
        c.T30 = TensorCoreMma.Mma<TPrecision>(c.T30, a3, b0, scratch, lane);
        c.T31 = TensorCoreMma.Mma<TPrecision>(c.T31, a3, b1, scratch, lane);
        c.T32 = TensorCoreMma.Mma<TPrecision>(c.T32, a3, b2, scratch, lane);
        c.T33 = TensorCoreMma.Mma<TPrecision>(c.T33, a3, b3, scratch, lane);
        return c;
    }

    /// <summary>
    /// Off CUDA, the k-step's 16 mma.sync emulated together: the 16 instructions of a k-step write disjoint accumulators
    /// and share their fragments, so storing the 4 A and 4 B fragments once (<see cref="TensorCoreMma.StoreA"/>,
    /// <see cref="TensorCoreMma.StoreB"/>: each lane's elements to their places by the PTX layout), one warp barrier, and
    /// the 16 tile products (<see cref="TensorCoreMma.Accumulate"/>) give exactly what 16 emulated instructions give, with
    /// 2 warp barriers instead of 32 (ILGPU's CPU accelerator pays microseconds per thread and barrier).
    /// </summary>
    private static TcBlock EmulateStep(bool bf16, TcBlock c, MmaA a0, MmaA a1, MmaA a2, MmaA a3, MmaB b0, MmaB b1, MmaB b2, MmaB b3,
        ArrayView<float> s, int lane)
    {
        const int at = TensorCoreMma.ATileFloats, bt = TensorCoreMma.BTileFloats, bBase = 4 * at;
        ArrayView<float> x0 = s.SubView(0 * at, at), x1 = s.SubView(1 * at, at), x2 = s.SubView(2 * at, at), x3 = s.SubView(3 * at, at);
        ArrayView<float> w0 = s.SubView(bBase + 0 * bt, bt), w1 = s.SubView(bBase + 1 * bt, bt), w2 = s.SubView(bBase + 2 * bt, bt), w3 = s.SubView(bBase + 3 * bt, bt);
        TensorCoreMma.StoreA(x0, a0, lane, bf16);
        TensorCoreMma.StoreA(x1, a1, lane, bf16);
        TensorCoreMma.StoreA(x2, a2, lane, bf16);
        TensorCoreMma.StoreA(x3, a3, lane, bf16);
        TensorCoreMma.StoreB(w0, b0, lane, bf16);
        TensorCoreMma.StoreB(w1, b1, lane, bf16);
        TensorCoreMma.StoreB(w2, b2, lane, bf16);
        TensorCoreMma.StoreB(w3, b3, lane, bf16);
        Warp.Barrier();
        c.T00 = TensorCoreMma.Accumulate(c.T00, x0, w0, lane, bf16);
        c.T01 = TensorCoreMma.Accumulate(c.T01, x0, w1, lane, bf16);
        c.T02 = TensorCoreMma.Accumulate(c.T02, x0, w2, lane, bf16);
        c.T03 = TensorCoreMma.Accumulate(c.T03, x0, w3, lane, bf16);
        c.T10 = TensorCoreMma.Accumulate(c.T10, x1, w0, lane, bf16);
        c.T11 = TensorCoreMma.Accumulate(c.T11, x1, w1, lane, bf16);
        c.T12 = TensorCoreMma.Accumulate(c.T12, x1, w2, lane, bf16);
        c.T13 = TensorCoreMma.Accumulate(c.T13, x1, w3, lane, bf16);
        c.T20 = TensorCoreMma.Accumulate(c.T20, x2, w0, lane, bf16);
        c.T21 = TensorCoreMma.Accumulate(c.T21, x2, w1, lane, bf16);
        c.T22 = TensorCoreMma.Accumulate(c.T22, x2, w2, lane, bf16);
        c.T23 = TensorCoreMma.Accumulate(c.T23, x2, w3, lane, bf16);
        c.T30 = TensorCoreMma.Accumulate(c.T30, x3, w0, lane, bf16);
        c.T31 = TensorCoreMma.Accumulate(c.T31, x3, w1, lane, bf16);
        c.T32 = TensorCoreMma.Accumulate(c.T32, x3, w2, lane, bf16);
        c.T33 = TensorCoreMma.Accumulate(c.T33, x3, w3, lane, bf16);
        Warp.Barrier();
        return c;
    }

    /// <summary>An A fragment from its four words, stored in register order A0..A3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static MmaA A(Word4 p)
    {
        MmaA a;
        a.A0 = p.X; a.A1 = p.Y; a.A2 = p.Z; a.A3 = p.W;
        return a;
    }

    /// <summary>B fragment from its column's word pair: (B0, B1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static MmaB B(Word2 p)
    {
        MmaB b;
        b.B0 = p.X; b.B1 = p.Y;
        return b;
    }

    // ---- Staging ------------------------------------------------------------------------------------------------

    /// <summary>
    /// The thread's share of one K slice: 8-word groups of x rows <paramref name="row"/> and row + 8 (word group
    /// <paramref name="aGroup"/>, interleaved into their row pair) and of W columns <paramref name="col"/> and col + 1
    /// (word group <paramref name="bGroup"/>), rounded, packed and permuted (see the class). <paramref name="lastSlice"/>
    /// (a constant at each call): whether k may reach past K here, so that only the last slice pays for the tests.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Stage<TPrecision, TStaging>(ArrayView<float> x, ArrayView<float> w, ArrayView<Word4> sa4, ArrayView<Word4> sb4,
        int row, int col, int aGroup, int bGroup, int k0, int m, int k, int n, bool lastSlice)
        where TPrecision : struct, IMmaPrecision where TStaging : struct, IGemmStaging
    {
        bool bf16 = default(TPrecision).Bf16;
        int groupDepth = bf16 ? 16 : 8;
        int ka = k0 + aGroup * groupDepth, kb = k0 + bGroup * groupDepth;
        StorePair(sa4, XGroup<TPrecision, TStaging>(x, row, ka, m, k, lastSlice), XGroup<TPrecision, TStaging>(x, row + 8, ka, m, k, lastSlice));
        var cols = WGroup<TPrecision, TStaging>(w, col, kb, k, n, lastSlice);
        StoreGroup(sb4, 0, cols.Lo);
        StoreGroup(sb4, Stride / 4, cols.Hi);
    }

    /// <summary>8 operand words, word j = the instruction's k = j (TF32) or pair j (bf16) of an 8-word group.</summary>
    private struct Words8
    {
        public uint W0, W1, W2, W3, W4, W5, W6, W7;
    }

    private struct ColumnPair
    {
        public Words8 Lo, Hi;
    }

    /// <summary>
    /// Stores the groups of rows r (lo) and r + 8 (hi) of a row pair as the four lanes t = 0..3 read them:
    /// [lo w_t, hi w_t, lo w_t+4, hi w_t+4] = A0..A3 at Word4 t; four 128-bit stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePair(ArrayView<Word4> s, Words8 lo, Words8 hi)
    {
        Word4 p0, p1, p2, p3;
        p0.X = lo.W0; p0.Y = hi.W0; p0.Z = lo.W4; p0.W = hi.W4;
        p1.X = lo.W1; p1.Y = hi.W1; p1.Z = lo.W5; p1.W = hi.W5;
        p2.X = lo.W2; p2.Y = hi.W2; p2.Z = lo.W6; p2.W = hi.W6;
        p3.X = lo.W3; p3.Y = hi.W3; p3.Z = lo.W7; p3.W = hi.W7;
        s[0] = p0;
        s[1] = p1;
        s[2] = p2;
        s[3] = p3;
    }

    /// <summary>Stores a column's group as [w0, w4, w1, w5] [w2, w6, w3, w7] (B0, B1 of lane t at 2t): two 128-bit stores at <paramref name="at"/> (Word4s).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreGroup(ArrayView<Word4> s, int at, Words8 v)
    {
        Word4 p, q;
        p.X = v.W0; p.Y = v.W4; p.Z = v.W1; p.W = v.W5;
        q.X = v.W2; q.Y = v.W6; q.Z = v.W3; q.W = v.W7;
        s[at] = p;
        s[at + 1] = q;
    }

    /// <summary>x[row, kk..kk + 8) (TF32) or [kk, kk + 16) (bf16) as operand words; zeros past K, and past M on the scalar path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Words8 XGroup<TPrecision, TStaging>(ArrayView<float> x, int row, int kk, int m, int k, bool lastSlice)
        where TPrecision : struct, IMmaPrecision where TStaging : struct, IGemmStaging
    {
        // Vectorised: rows past M read the last row (never stored); scalar: zeros.
        bool vec = default(TStaging).Vectorised;
        int r = vec ? IntrinsicMath.Min(row, m - 1) : row;
        bool rowOk = vec || row < m;
        int at = r * k + kk;
        var v0 = X4<TStaging>(x, at, kk, k, rowOk, lastSlice);
        var v1 = X4<TStaging>(x, at + 4, kk + 4, k, rowOk, lastSlice);
        Words8 o;
        if (default(TPrecision).Bf16)
        {
            var v2 = X4<TStaging>(x, at + 8, kk + 8, k, rowOk, lastSlice);
            var v3 = X4<TStaging>(x, at + 12, kk + 12, k, rowOk, lastSlice);
            o.W0 = MmaRounding.PackBf16x2(v0.X, v0.Y); o.W1 = MmaRounding.PackBf16x2(v0.Z, v0.W);
            o.W2 = MmaRounding.PackBf16x2(v1.X, v1.Y); o.W3 = MmaRounding.PackBf16x2(v1.Z, v1.W);
            o.W4 = MmaRounding.PackBf16x2(v2.X, v2.Y); o.W5 = MmaRounding.PackBf16x2(v2.Z, v2.W);
            o.W6 = MmaRounding.PackBf16x2(v3.X, v3.Y); o.W7 = MmaRounding.PackBf16x2(v3.Z, v3.W);
        }
        else
        {
            o.W0 = MmaRounding.Tf32Bits(v0.X); o.W1 = MmaRounding.Tf32Bits(v0.Y);
            o.W2 = MmaRounding.Tf32Bits(v0.Z); o.W3 = MmaRounding.Tf32Bits(v0.W);
            o.W4 = MmaRounding.Tf32Bits(v1.X); o.W5 = MmaRounding.Tf32Bits(v1.Y);
            o.W6 = MmaRounding.Tf32Bits(v1.Z); o.W7 = MmaRounding.Tf32Bits(v1.W);
        }
        return o;
    }

    /// <summary>
    /// x[at .. at + 4) = x[row, kk .. kk + 4): one 128-bit load when vectorised (K a multiple of 4: the float4 is wholly
    /// inside or outside K), else four guarded loads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static GemmKernel.Vec4 X4<TStaging>(ArrayView<float> x, int at, int kk, int k, bool rowOk, bool lastSlice)
        where TStaging : struct, IGemmStaging
    {
        GemmKernel.Vec4 v;
        if (default(TStaging).Vectorised)
        {
            v = !lastSlice || kk < k ? x.Cast<GemmKernel.Vec4>()[at >> 2] : default;
        }
        else
        {
            v.X = rowOk && (!lastSlice || kk < k) ? x[at] : 0f;
            v.Y = rowOk && (!lastSlice || kk + 1 < k) ? x[at + 1] : 0f;
            v.Z = rowOk && (!lastSlice || kk + 2 < k) ? x[at + 2] : 0f;
            v.W = rowOk && (!lastSlice || kk + 3 < k) ? x[at + 3] : 0f;
        }
        return v;
    }

    /// <summary>
    /// W[kk .. kk + 8 (16), col] and [.., col + 1] as two columns' operand words: each TF32 word one row, each bf16 word
    /// rows 2j and 2j + 1 of its column.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ColumnPair WGroup<TPrecision, TStaging>(ArrayView<float> w, int col, int kk, int k, int n, bool lastSlice)
        where TPrecision : struct, IMmaPrecision where TStaging : struct, IGemmStaging
    {
        // Vectorised (N a multiple of 4): a column pair is wholly inside or outside N; outside it reads the last pair.
        bool vec = default(TStaging).Vectorised;
        int c = vec ? IntrinsicMath.Min(col, n - 2) : col;
        int at = kk * n + c;
        ColumnPair o;
        if (default(TPrecision).Bf16)
        {
            var r0 = W2<TStaging>(w, at, kk, c, k, n, lastSlice);
            var r1 = W2<TStaging>(w, at + n, kk + 1, c, k, n, lastSlice);
            var r2 = W2<TStaging>(w, at + 2 * n, kk + 2, c, k, n, lastSlice);
            var r3 = W2<TStaging>(w, at + 3 * n, kk + 3, c, k, n, lastSlice);
            o.Lo.W0 = MmaRounding.PackBf16x2(r0.X, r1.X); o.Hi.W0 = MmaRounding.PackBf16x2(r0.Y, r1.Y);
            o.Lo.W1 = MmaRounding.PackBf16x2(r2.X, r3.X); o.Hi.W1 = MmaRounding.PackBf16x2(r2.Y, r3.Y);
            var r4 = W2<TStaging>(w, at + 4 * n, kk + 4, c, k, n, lastSlice);
            var r5 = W2<TStaging>(w, at + 5 * n, kk + 5, c, k, n, lastSlice);
            var r6 = W2<TStaging>(w, at + 6 * n, kk + 6, c, k, n, lastSlice);
            var r7 = W2<TStaging>(w, at + 7 * n, kk + 7, c, k, n, lastSlice);
            o.Lo.W2 = MmaRounding.PackBf16x2(r4.X, r5.X); o.Hi.W2 = MmaRounding.PackBf16x2(r4.Y, r5.Y);
            o.Lo.W3 = MmaRounding.PackBf16x2(r6.X, r7.X); o.Hi.W3 = MmaRounding.PackBf16x2(r6.Y, r7.Y);
            var r8 = W2<TStaging>(w, at + 8 * n, kk + 8, c, k, n, lastSlice);
            var r9 = W2<TStaging>(w, at + 9 * n, kk + 9, c, k, n, lastSlice);
            var r10 = W2<TStaging>(w, at + 10 * n, kk + 10, c, k, n, lastSlice);
            var r11 = W2<TStaging>(w, at + 11 * n, kk + 11, c, k, n, lastSlice);
            o.Lo.W4 = MmaRounding.PackBf16x2(r8.X, r9.X); o.Hi.W4 = MmaRounding.PackBf16x2(r8.Y, r9.Y);
            o.Lo.W5 = MmaRounding.PackBf16x2(r10.X, r11.X); o.Hi.W5 = MmaRounding.PackBf16x2(r10.Y, r11.Y);
            var r12 = W2<TStaging>(w, at + 12 * n, kk + 12, c, k, n, lastSlice);
            var r13 = W2<TStaging>(w, at + 13 * n, kk + 13, c, k, n, lastSlice);
            var r14 = W2<TStaging>(w, at + 14 * n, kk + 14, c, k, n, lastSlice);
            var r15 = W2<TStaging>(w, at + 15 * n, kk + 15, c, k, n, lastSlice);
            o.Lo.W6 = MmaRounding.PackBf16x2(r12.X, r13.X); o.Hi.W6 = MmaRounding.PackBf16x2(r12.Y, r13.Y);
            o.Lo.W7 = MmaRounding.PackBf16x2(r14.X, r15.X); o.Hi.W7 = MmaRounding.PackBf16x2(r14.Y, r15.Y);
        }
        else
        {
            var r0 = W2<TStaging>(w, at, kk, c, k, n, lastSlice);
            var r1 = W2<TStaging>(w, at + n, kk + 1, c, k, n, lastSlice);
            var r2 = W2<TStaging>(w, at + 2 * n, kk + 2, c, k, n, lastSlice);
            var r3 = W2<TStaging>(w, at + 3 * n, kk + 3, c, k, n, lastSlice);
            var r4 = W2<TStaging>(w, at + 4 * n, kk + 4, c, k, n, lastSlice);
            var r5 = W2<TStaging>(w, at + 5 * n, kk + 5, c, k, n, lastSlice);
            var r6 = W2<TStaging>(w, at + 6 * n, kk + 6, c, k, n, lastSlice);
            var r7 = W2<TStaging>(w, at + 7 * n, kk + 7, c, k, n, lastSlice);
            o.Lo.W0 = MmaRounding.Tf32Bits(r0.X); o.Hi.W0 = MmaRounding.Tf32Bits(r0.Y);
            o.Lo.W1 = MmaRounding.Tf32Bits(r1.X); o.Hi.W1 = MmaRounding.Tf32Bits(r1.Y);
            o.Lo.W2 = MmaRounding.Tf32Bits(r2.X); o.Hi.W2 = MmaRounding.Tf32Bits(r2.Y);
            o.Lo.W3 = MmaRounding.Tf32Bits(r3.X); o.Hi.W3 = MmaRounding.Tf32Bits(r3.Y);
            o.Lo.W4 = MmaRounding.Tf32Bits(r4.X); o.Hi.W4 = MmaRounding.Tf32Bits(r4.Y);
            o.Lo.W5 = MmaRounding.Tf32Bits(r5.X); o.Hi.W5 = MmaRounding.Tf32Bits(r5.Y);
            o.Lo.W6 = MmaRounding.Tf32Bits(r6.X); o.Hi.W6 = MmaRounding.Tf32Bits(r6.Y);
            o.Lo.W7 = MmaRounding.Tf32Bits(r7.X); o.Hi.W7 = MmaRounding.Tf32Bits(r7.Y);
        }
        return o;
    }

    /// <summary>W[kk, c] and W[kk, c + 1] (at = kk·N + c): one 64-bit load when vectorised, else two guarded loads; zeros past K.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec2 W2<TStaging>(ArrayView<float> w, int at, int kk, int c, int k, int n, bool lastSlice)
        where TStaging : struct, IGemmStaging
    {
        bool kOk = !lastSlice || kk < k;
        Vec2 v;
        if (default(TStaging).Vectorised)
        {
            v = kOk ? w.Cast<Vec2>()[at >> 1] : default;
        }
        else
        {
            v.X = kOk && c < n ? w[at] : 0f;
            v.Y = kOk && c + 1 < n ? w[at + 1] : 0f;
        }
        return v;
    }

    // ---- Epilogue -----------------------------------------------------------------------------------------------

    /// <summary>
    /// y = act(C + bias) for the thread's elements: mma tile (i, j) holds rows row0 + 16i (+8) and columns
    /// col0 + 8j (+1) (C0..C3 as in <see cref="TensorCoreMma"/>); rows ≥ M and columns ≥ N are skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(TcBlock c, ArrayView<float> y, ArrayView<float> bias, int row0, int col0, int m, int n, int gelu)
    {
        var b0 = Bias(bias, col0, n);
        var b1 = Bias(bias, col0 + 8, n);
        var b2 = Bias(bias, col0 + 16, n);
        var b3 = Bias(bias, col0 + 24, n);
        StoreRowTiles(y, row0, col0, m, n, gelu, b0, b1, b2, b3, c.T00, c.T01, c.T02, c.T03);
        StoreRowTiles(y, row0 + 16, col0, m, n, gelu, b0, b1, b2, b3, c.T10, c.T11, c.T12, c.T13);
        StoreRowTiles(y, row0 + 32, col0, m, n, gelu, b0, b1, b2, b3, c.T20, c.T21, c.T22, c.T23);
        StoreRowTiles(y, row0 + 48, col0, m, n, gelu, b0, b1, b2, b3, c.T30, c.T31, c.T32, c.T33);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec2 Bias(ArrayView<float> bias, int col, int n)
    {
        Vec2 v;
        v.X = col < n ? bias[col] : 0f;
        v.Y = col + 1 < n ? bias[col + 1] : 0f;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRowTiles(ArrayView<float> y, int row, int col0, int m, int n, int gelu,
        Vec2 b0, Vec2 b1, Vec2 b2, Vec2 b3, MmaC t0, MmaC t1, MmaC t2, MmaC t3)
    {
        StoreTile(y, row, col0, m, n, gelu, b0, t0);
        StoreTile(y, row, col0 + 8, m, n, gelu, b1, t1);
        StoreTile(y, row, col0 + 16, m, n, gelu, b2, t2);
        StoreTile(y, row, col0 + 24, m, n, gelu, b3, t3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile(ArrayView<float> y, int row, int col, int m, int n, int gelu, Vec2 b, MmaC t)
    {
        StoreOne(y, row, col, m, n, t.C0 + b.X, gelu);
        StoreOne(y, row, col + 1, m, n, t.C1 + b.Y, gelu);
        StoreOne(y, row + 8, col, m, n, t.C2 + b.X, gelu);
        StoreOne(y, row + 8, col + 1, m, n, t.C3 + b.Y, gelu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOne(ArrayView<float> y, int row, int col, int m, int n, float v, int gelu)
    {
        if (row < m && col < n) y[row * n + col] = gelu != 0 ? GeluMath.Gelu(v) : v;
    }

    /// <summary>
    /// A thread's 64 accumulators: mma tile Tij covers its warp tile's rows 16i .. 16i + 15 and columns 8j .. 8j + 7.
    /// Fields only (no array), so ILGPU keeps them in registers.
    /// </summary>
    private struct TcBlock
    {
        public MmaC T00, T01, T02, T03, T10, T11, T12, T13, T20, T21, T22, T23, T30, T31, T32, T33;
    }
}
