using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace NeuronEngine.Kernels;

/// <summary>
/// Which tensor-core instruction a <see cref="TensorCoreGemmKernel"/> uses, read through <c>default(TPrecision)</c> like
/// <see cref="IGemmTile"/>: every branch on it folds when the kernel is specialised.
/// </summary>
public interface IMmaPrecision
{
    /// <summary>
    /// False: <c>mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32</c> (8 k per instruction, one TF32 value per 32-bit
    /// operand word). True: <c>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32</c> (16 k per instruction, two
    /// bfloat16 values per word, the lower k in the low half).
    /// </summary>
    bool Bf16 { get; }
}

/// <summary>TF32 inputs (m16n8k8); see <see cref="IMmaPrecision"/>.</summary>
public struct Tf32Mma : IMmaPrecision
{
    public readonly bool Bf16 => false;
}

/// <summary>bfloat16 inputs (m16n8k16); see <see cref="IMmaPrecision"/>.</summary>
public struct Bf16Mma : IMmaPrecision
{
    public readonly bool Bf16 => true;
}

/// <summary>A thread's fragment of the 16×8 float32 accumulator C/D of one mma.sync (see <see cref="TensorCoreMma"/>).</summary>
public struct MmaC
{
    public float C0, C1, C2, C3;
}

/// <summary>A thread's fragment of the 16×k multiplicand A: four 32-bit operand words.</summary>
public struct MmaA
{
    public uint A0, A1, A2, A3;
}

/// <summary>A thread's fragment of the k×8 multiplicand B: two 32-bit operand words.</summary>
public struct MmaB
{
    public uint B0, B1;
}

/// <summary>
/// One warp-wide <c>mma.sync</c>, D = A·B + C with float32 accumulation: inline PTX on CUDA (<c>CudaAsm.EmitRef</c>),
/// and on every other accelerator (<c>CudaAsm.IsSupported</c> false, a constant once the kernel is specialised, so
/// each backend keeps one branch) an emulation with the same fragment layout, so that ILGPU's CPU accelerator (warp
/// size 32) exercises exactly the index math the GPU runs.
/// <para>
/// Fragment layouts, from the PTX ISA ("Matrix Fragments for mma.m16n8k8" / "mma.m16n8k16"), lane = 4·g + t
/// (g = groupID = lane &gt;&gt; 2, t = threadID_in_group = lane % 4):
/// <list type="bullet">
/// <item>C/D (both shapes): C0 = (row g, col 2t), C1 = (g, 2t+1), C2 = (g+8, 2t), C3 = (g+8, 2t+1).</item>
/// <item>TF32 m16n8k8, one value per word. A: A0 = (row g, k t), A1 = (g+8, t), A2 = (g, t+4), A3 = (g+8, t+4).
/// B: B0 = (k t, col g), B1 = (k t+4, col g).</item>
/// <item>bf16 m16n8k16, two values per word, lower k in bits 0–15. A: A0 = (row g, k 2t | 2t+1), A1 = (g+8, 2t | 2t+1),
/// A2 = (g, 2t+8 | 2t+9), A3 = (g+8, 2t+8 | 2t+9). B: B0 = (k 2t | 2t+1, col g), B1 = (k 2t+8 | 2t+9, col g).</item>
/// </list>
/// </para>
/// <para>
/// The emulation: every lane writes its A and B words, decoded as the tensor core reads them (TF32: the low 13 bits
/// ignored; bf16: each half widened), to its place in a per-warp scratch tile of shared memory (A 16×16, B 16×8
/// floats) by the layout above; a warp barrier; then each lane computes its own four C elements from the tile,
/// c = a·b + c over k = 0, 1, … in ascending order; a second barrier before the tile is reused. Its sum order is
/// therefore that of <c>CpuMath.MatMulBias</c> over rounded inputs (products of TF32 or bf16 values are exact in
/// float32, so the chain is bit-identical to that FMA chain), while the hardware adds the products of one instruction
/// in its own order and internal precision: results on a GPU differ from the emulation by float32 rounding of the sum.
/// A lane that read the wrong element (a wrong layout anywhere in the kernel) gives a wrong product, which the tests
/// catch, and a test kernel builds fragments from the ISA's formulas independently of the GEMM to check this class.
/// </para>
/// </summary>
public static class TensorCoreMma
{
    /// <summary>Floats of shared scratch one warp needs for the emulation of one <see cref="Mma{TPrecision}"/> (A 16×16 then B 16×8).</summary>
    public const int EmulationFloatsPerWarp = ATileFloats + BTileFloats;

    /// <summary>
    /// D = A·B + C for the instruction <typeparamref name="TPrecision"/> selects. Every lane of the warp must call it
    /// together (it is a warp-collective instruction, and the emulation synchronises the warp). <paramref name="scratch"/>:
    /// the warp's <see cref="EmulationFloatsPerWarp"/> floats of shared memory, used only where CUDA is not (pass an
    /// empty view on CUDA); <paramref name="lane"/>: the lane index, 0–31.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MmaC Mma<TPrecision>(MmaC c, MmaA a, MmaB b, ArrayView<float> scratch, int lane)
        where TPrecision : struct, IMmaPrecision
    {
        if (CudaAsm.IsSupported)
        {
            Ref<float> d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
            Input<uint> a0 = a.A0, a1 = a.A1, a2 = a.A2, a3 = a.A3, b0 = b.B0, b1 = b.B1;
            if (default(TPrecision).Bf16)
                CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
                    ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
            else
                CudaAsm.EmitRef("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
                    ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
            MmaC d;
            d.C0 = d0.Value; d.C1 = d1.Value; d.C2 = d2.Value; d.C3 = d3.Value;
            return d;
        }
        return Emulate(default(TPrecision).Bf16, c, a, b, scratch, lane);
    }

    /// <summary>The emulation described on the class, on the warp's scratch tiles (A: 16 rows of 16 floats; B: 16 rows of 8).</summary>
    private static MmaC Emulate(bool bf16, MmaC c, MmaA a, MmaB b, ArrayView<float> s, int lane)
    {
        StoreA(s.SubView(0, ATileFloats), a, lane, bf16);
        StoreB(s.SubView(ATileFloats, BTileFloats), b, lane, bf16);
        Warp.Barrier();
        c = Accumulate(c, s.SubView(0, ATileFloats), s.SubView(ATileFloats, BTileFloats), lane, bf16);
        Warp.Barrier();
        return c;
    }

    /// <summary>Floats of an emulated A tile: 16 rows × 16 k (TF32 uses the first 8 of each row).</summary>
    internal const int ATileFloats = 16 * 16;

    /// <summary>Floats of an emulated B tile: 16 k × 8 columns (TF32 uses the first 8 rows).</summary>
    internal const int BTileFloats = 16 * 8;

    /// <summary>
    /// The emulation's first half for A: the lane writes its fragment's elements, decoded as the tensor core reads them,
    /// to their (row, k) places in the tile <paramref name="s"/> (rows of 16 floats), by the layout on the class.
    /// </summary>
    internal static void StoreA(ArrayView<float> s, MmaA a, int lane, bool bf16)
    {
        int g = lane >> 2, t = lane & 3;
        int lo = g * 16, hi = (g + 8) * 16;
        if (bf16)
        {
            s[lo + 2 * t] = MmaRounding.Bf16Low(a.A0); s[lo + 2 * t + 1] = MmaRounding.Bf16High(a.A0);
            s[hi + 2 * t] = MmaRounding.Bf16Low(a.A1); s[hi + 2 * t + 1] = MmaRounding.Bf16High(a.A1);
            s[lo + 2 * t + 8] = MmaRounding.Bf16Low(a.A2); s[lo + 2 * t + 9] = MmaRounding.Bf16High(a.A2);
            s[hi + 2 * t + 8] = MmaRounding.Bf16Low(a.A3); s[hi + 2 * t + 9] = MmaRounding.Bf16High(a.A3);
        }
        else
        {
            s[lo + t] = MmaRounding.Tf32Operand(a.A0);
            s[hi + t] = MmaRounding.Tf32Operand(a.A1);
            s[lo + t + 4] = MmaRounding.Tf32Operand(a.A2);
            s[hi + t + 4] = MmaRounding.Tf32Operand(a.A3);
        }
    }

    /// <summary>The emulation's first half for B: the lane's elements to their (k, column) places in <paramref name="s"/> (rows of 8 floats).</summary>
    internal static void StoreB(ArrayView<float> s, MmaB b, int lane, bool bf16)
    {
        int g = lane >> 2, t = lane & 3;
        if (bf16)
        {
            s[2 * t * 8 + g] = MmaRounding.Bf16Low(b.B0); s[(2 * t + 1) * 8 + g] = MmaRounding.Bf16High(b.B0);
            s[(2 * t + 8) * 8 + g] = MmaRounding.Bf16Low(b.B1); s[(2 * t + 9) * 8 + g] = MmaRounding.Bf16High(b.B1);
        }
        else
        {
            s[t * 8 + g] = MmaRounding.Tf32Operand(b.B0);
            s[(t + 4) * 8 + g] = MmaRounding.Tf32Operand(b.B1);
        }
    }

    /// <summary>
    /// The emulation's second half (after a warp barrier): the lane's four C elements (rows g, g + 8; columns 2t, 2t + 1)
    /// plus the products of their A row and B column in the tiles, c = a·b + c for k = 0, 1, … in ascending order.
    /// </summary>
    internal static MmaC Accumulate(MmaC c, ArrayView<float> a, ArrayView<float> b, int lane, bool bf16)
    {
        int g = lane >> 2, t = lane & 3;
        int lo = g * 16, hi = (g + 8) * 16;
        int depth = bf16 ? 16 : 8;
        for (int j = 0; j < depth; j++)
        {
            float x0 = a[lo + j], x1 = a[hi + j];
            float w0 = b[j * 8 + 2 * t], w1 = b[j * 8 + 2 * t + 1];
            c.C0 = x0 * w0 + c.C0;
            c.C1 = x0 * w1 + c.C1;
            c.C2 = x1 * w0 + c.C2;
            c.C3 = x1 * w1 + c.C3;
        }
        return c;
    }
}
