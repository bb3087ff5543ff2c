using System.Runtime.CompilerServices;
using ILGPU;

namespace NeuronEngine.Kernels;

/// <summary>
/// How a GEMM group moves each K slice of x and W from global to shared memory, read inside the kernel through
/// <c>default(TStaging)</c> like <see cref="IGemmTile"/>, so each choice compiles to its own kernel without a branch.
/// </summary>
public interface IGemmStaging
{
    /// <summary>
    /// True: 128-bit loads (ld.global.v4.f32 / LDG.E.128), 4 consecutive k of an x row and 4 consecutive columns of a
    /// W row each. Only valid when K and N are multiples of 4 and x and W start 16-byte aligned (GemmOp checks):
    /// then every float4 is aligned and lies wholly inside or wholly outside K and N, so one guard covers all four.
    /// False: 32-bit loads with a guard per element, for any K, N and alignment.
    /// </summary>
    bool Vectorised { get; }
}

/// <summary>128-bit staging loads; see <see cref="IGemmStaging.Vectorised"/>.</summary>
public struct Vec4Staging : IGemmStaging
{
    public readonly bool Vectorised => true;
}

/// <summary>32-bit staging loads with a guard each: ragged K or N, or views not 16-byte aligned.</summary>
public struct ScalarStaging : IGemmStaging
{
    public readonly bool Vectorised => false;
}

/// <summary>
/// The 8 x values, or the 8 W values, one thread moves in one staging pass (a pass covers StageK = Tile/8 slice rows:
/// Tile·StageK = 8·threads). Vectorised: V0, V1 are x[row, k..k+3] of two rows, or W[k, col..col+3] of two slice
/// rows. Scalar: V0.X … V1.W are x[aRow + r·AStep, aK], or W[bK + r·BStep, bN], for r = 0..7.
/// </summary>
internal struct GemmStage
{
    public GemmKernel.Vec4 V0, V1;
}

/// <summary>
/// One thread's fixed staging coordinates (computed once per group) and the loads and shared-memory stores built on
/// them, for one pass of StageK = Tile/8 slice rows. Tile sizes come from TTile, the load width from TStaging: every
/// branch on them folds at compile time.
/// </summary>
internal struct GemmStager
{
    // x: element (vectorised: float4) index of the thread's first value at k = 0, the step to its next row in
    // elements (float4s; vectorised: between its two clamped rows) and in rows, its k offset within the pass, and how
    // many rows of x remain from its first (scalar path).
    public int AIdx, AStride, AStep, AK, ARowsLeft;
    // W: index of the thread's first value at slice row 0 (vectorised: float4 index, column clamped), the step
    // between its slice rows in elements (float4s) and in rows, its first slice row, and whether its column is inside
    // N (scalar path; always true when vectorised).
    public int BIdx, BStride, BStep, BK;
    public bool BColOk;
    // Shared memory: where the thread's first x value goes in As and its first W value in Bs (float indices).
    public int SAIdx, SBIdx;

    /// <summary>
    /// Vectorised map (threads = Tile²/64, StageK = Tile/8):
    ///   x: StageK/4 float4s per tile row; thread t loads float4 aq = t mod (StageK/4) of rows t / (StageK/4) and that
    ///      + Tile/2 (4 threads read one row's 64 contiguous bytes at Tile 128: whole 32-byte sectors).
    ///   W: Tile/4 float4s per slice row; thread t loads float4 bq = t mod (Tile/4) of slice rows t / (Tile/4) and
    ///      that + StageK/2 (a warp reads 512 contiguous bytes).
    /// Scalar map: x column aK = t mod StageK of rows t / StageK + r·(threads/StageK); W column t mod Tile of slice
    /// rows t / Tile + r·(threads/Tile), r = 0..7 (16 or 8 threads read consecutive k of one x row; a warp reads 128
    /// consecutive bytes of a W row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static GemmStager Create<TTile, TStaging>(int tid, int rowBlock, int colBlock, int m, int k, int n)
        where TTile : struct, IGemmTile where TStaging : struct, IGemmStaging
    {
        int tile = default(TTile).Tile, stageK = tile / GemmKernel.RegisterBlock;
        int threads = stageK * stageK;
        int strideA = tile + GemmKernel.Pad;
        GemmStager s;
        if (default(TStaging).Vectorised)
        {
            // Rows of x past M and columns of W past N are read clamped to the last one instead of guarded: they only
            // feed outputs that are never stored, and the loads need no predicate.
            int quadsA = stageK / 4, quadsB = tile / 4;
            int aq = GemmKernel.Mod(tid, quadsA), aRow = GemmKernel.Div(tid, quadsA);
            int row0 = IntrinsicMath.Min(rowBlock + aRow, m - 1), row1 = IntrinsicMath.Min(rowBlock + aRow + tile / 2, m - 1);
            s.AStep = tile / 2;
            s.AK = 4 * aq;
            s.ARowsLeft = m - rowBlock - aRow;
            s.AIdx = row0 * (k >> 2) + aq;
            s.AStride = (row1 - row0) * (k >> 2);
            int bq = GemmKernel.Mod(tid, quadsB);
            s.BK = GemmKernel.Div(tid, quadsB);
            s.BStep = stageK / 2;
            s.BColOk = true;
            s.BIdx = s.BK * (n >> 2) + IntrinsicMath.Min((colBlock >> 2) + bq, (n >> 2) - 1);
            s.BStride = s.BStep * (n >> 2);
            s.SAIdx = s.AK * strideA + aRow;
            s.SBIdx = s.BK * tile + 4 * bq;
        }
        else
        {
            int aRow = GemmKernel.Div(tid, stageK);
            s.AK = GemmKernel.Mod(tid, stageK);
            s.AStep = threads / stageK;
            s.ARowsLeft = m - rowBlock - aRow;
            s.AIdx = (rowBlock + aRow) * k + s.AK;
            s.AStride = s.AStep * k;
            int bN = GemmKernel.Mod(tid, tile);
            s.BK = GemmKernel.Div(tid, tile);
            s.BStep = threads / tile;
            s.BColOk = colBlock + bN < n;
            s.BIdx = s.BK * n + colBlock + bN;
            s.BStride = s.BStep * n;
            s.SAIdx = s.AK * strideA + aRow;
            s.SBIdx = s.BK * tile + bN;
        }
        return s;
    }

    /// <summary>
    /// The thread's x values of the pass starting at slice row k0. Values at k ≥ K are zeros, so a partial slice
    /// multiplies by zero; <paramref name="lastSlice"/> = false (a constant at each call) drops that test for the
    /// slices wholly inside K. Rows ≥ M: zeros on the scalar path (row r of the thread is inside x iff
    /// r·AStep &lt; ARowsLeft), the clamped last row on the vectorised path (see <see cref="Create"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static GemmStage LoadX<TStaging>(GemmStager s, ArrayView<float> x, int k0, int k, bool lastSlice)
        where TStaging : struct, IGemmStaging
    {
        GemmStage v;
        bool kOk = !lastSlice || k0 + s.AK < k;
        int left = s.ARowsLeft;
        if (default(TStaging).Vectorised)
        {
            var x4 = x.Cast<GemmKernel.Vec4>();
            int a = s.AIdx + (k0 >> 2);
            v.V0 = kOk ? x4[a] : default;
            v.V1 = kOk ? x4[a + s.AStride] : default;
        }
        else
        {
            int a = s.AIdx + k0, st = s.AStride, step = s.AStep;
            v.V0.X = kOk && 0 < left ? x[a] : 0f;
            v.V0.Y = kOk && step < left ? x[a + st] : 0f;
            v.V0.Z = kOk && 2 * step < left ? x[a + 2 * st] : 0f;
            v.V0.W = kOk && 3 * step < left ? x[a + 3 * st] : 0f;
            v.V1.X = kOk && 4 * step < left ? x[a + 4 * st] : 0f;
            v.V1.Y = kOk && 5 * step < left ? x[a + 5 * st] : 0f;
            v.V1.Z = kOk && 6 * step < left ? x[a + 6 * st] : 0f;
            v.V1.W = kOk && 7 * step < left ? x[a + 7 * st] : 0f;
        }
        return v;
    }

    /// <summary>
    /// The thread's W values of the pass starting at slice row k0: zeros at k ≥ K (tested only in the last slice, as
    /// in <see cref="LoadX{TStaging}"/>); columns ≥ N zeros on the scalar path, clamped on the vectorised one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static GemmStage LoadW<TStaging>(GemmStager s, ArrayView<float> w, int k0, int k, int n, bool lastSlice)
        where TStaging : struct, IGemmStaging
    {
        GemmStage v;
        bool ok = s.BColOk;
        // Slice row r of the thread is inside W iff r·BStep < kLeft; wholly inside K unless this is the last slice.
        int kLeft = lastSlice ? k - k0 - s.BK : int.MaxValue;
        if (default(TStaging).Vectorised)
        {
            var w4 = w.Cast<GemmKernel.Vec4>();
            int b = s.BIdx + k0 * (n >> 2);
            v.V0 = 0 < kLeft ? w4[b] : default;
            v.V1 = s.BStep < kLeft ? w4[b + s.BStride] : default;
        }
        else
        {
            int b = s.BIdx + k0 * n, bs = s.BStride, step = s.BStep;
            v.V0.X = ok && 0 < kLeft ? w[b] : 0f;
            v.V0.Y = ok && step < kLeft ? w[b + bs] : 0f;
            v.V0.Z = ok && 2 * step < kLeft ? w[b + 2 * bs] : 0f;
            v.V0.W = ok && 3 * step < kLeft ? w[b + 3 * bs] : 0f;
            v.V1.X = ok && 4 * step < kLeft ? w[b + 4 * bs] : 0f;
            v.V1.Y = ok && 5 * step < kLeft ? w[b + 5 * bs] : 0f;
            v.V1.Z = ok && 6 * step < kLeft ? w[b + 6 * bs] : 0f;
            v.V1.W = ok && 7 * step < kLeft ? w[b + 7 * bs] : 0f;
        }
        return v;
    }

    /// <summary>
    /// Publishes the thread's x values, transposed into As[k][row] (rows Tile + Pad floats). Vectorised, a float4
    /// holds 4 k of one row, so it becomes 4 scalar stores down As's column (a 2-way bank conflict at Tile 128: the
    /// 4 float4s of a row land 4·(Tile + Pad) floats apart, ≡ 16 banks). <paramref name="saT"/> starts at the
    /// thread's place in the pass, so every index is a compile-time constant (an immediate offset of STS).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreX<TTile, TStaging>(GemmStager s, GemmStage v, ArrayView<float> saT)
        where TTile : struct, IGemmTile where TStaging : struct, IGemmStaging
    {
        int stride = default(TTile).Tile + GemmKernel.Pad;
        if (default(TStaging).Vectorised)
        {
            int up = s.AStep;                      // the second row, Tile/2 further
            saT[0] = v.V0.X; saT[stride] = v.V0.Y; saT[2 * stride] = v.V0.Z; saT[3 * stride] = v.V0.W;
            saT[up] = v.V1.X; saT[up + stride] = v.V1.Y; saT[up + 2 * stride] = v.V1.Z; saT[up + 3 * stride] = v.V1.W;
        }
        else
        {
            int step = s.AStep;
            saT[0] = v.V0.X; saT[step] = v.V0.Y; saT[2 * step] = v.V0.Z; saT[3 * step] = v.V0.W;
            saT[4 * step] = v.V1.X; saT[5 * step] = v.V1.Y; saT[6 * step] = v.V1.Z; saT[7 * step] = v.V1.W;
        }
    }

    /// <summary>
    /// Publishes the thread's W values into Bs[k][col]; vectorised as two 128-bit stores through
    /// <paramref name="sbT4"/>, Bs as float4s from the thread's place (SBIdx / 4). That view must come from casting the
    /// whole tile and then taking the sub-view: ILGPU proves 16-byte alignment for it (st.shared.v4.f32), while a cast
    /// of the float sub-view at SBIdx, not provably a multiple of 4, stays four 32-bit stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreW<TTile, TStaging>(GemmStager s, GemmStage v, ArrayView<float> sbT, ArrayView<GemmKernel.Vec4> sbT4)
        where TTile : struct, IGemmTile where TStaging : struct, IGemmStaging
    {
        int step = s.BStep * default(TTile).Tile;  // floats between the thread's slice rows
        if (default(TStaging).Vectorised)
        {
            sbT4[0] = v.V0;
            sbT4[step / 4] = v.V1;
        }
        else
        {
            sbT[0] = v.V0.X; sbT[step] = v.V0.Y; sbT[2 * step] = v.V0.Z; sbT[3 * step] = v.V0.W;
            sbT[4 * step] = v.V1.X; sbT[5 * step] = v.V1.Y; sbT[6 * step] = v.V1.Z; sbT[7 * step] = v.V1.W;
        }
    }
}
