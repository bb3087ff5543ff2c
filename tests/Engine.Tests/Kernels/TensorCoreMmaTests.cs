using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

/// <summary>
/// One mma.sync (<see cref="TensorCoreMma.Mma{TPrecision}"/>) in a test kernel that distributes A, B and C over the
/// warp's lanes by the PTX ISA's fragment formulas ("Matrix Fragments for mma.m16n8k8 / m16n8k16"), written here from
/// the manual element by element, independently of the GEMM's staging: D must be A·B + C. On ILGPU's CPU accelerator
/// (warp 32) this checks the emulation's layout against the ISA's; on a CUDA device (skipped without one) the same
/// kernel runs the real instruction, which checks that the emulation and the hardware agree on who holds what. Values
/// are small multiples of 1/8, exact in TF32 and bf16, so every sum is exact and D is compared for equality.
/// </summary>
public class TensorCoreMmaTests(Warp32AcceleratorFixture fx) : IClassFixture<Warp32AcceleratorFixture>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EmulationFollowsThePtxFragmentLayout(bool bf16) => Check(fx.Accelerator, bf16);

    [CudaTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void HardwareAgreesWithTheLayoutWhenADeviceExists(bool bf16)
    {
        var cuda = IlgpuContexts.TryCreateCuda()!.Value;
        using var context = cuda.Context;
        using var accelerator = cuda.Accelerator;
        Check(accelerator, bf16);
    }

    private static void Check(Accelerator accelerator, bool bf16)
    {
        int depth = bf16 ? 16 : 8;
        var rng = new Random(bf16 ? 16 : 8);
        float Next() => rng.Next(-8, 9) / 8f;
        var a = Enumerable.Range(0, 16 * depth).Select(_ => Next()).ToArray();   // A[16][depth], row-major
        var b = Enumerable.Range(0, depth * 8).Select(_ => Next()).ToArray();    // B[depth][8], row-major
        var c = Enumerable.Range(0, 16 * 8).Select(_ => Next()).ToArray();       // C[16][8]
        var expected = new float[16 * 8];
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
            {
                float s = c[i * 8 + j];
                for (int k = 0; k < depth; k++) s += a[i * depth + k] * b[k * 8 + j];
                expected[i * 8 + j] = s;
            }

        using var da = accelerator.Allocate1D(a);
        using var db = accelerator.Allocate1D(b);
        using var dc = accelerator.Allocate1D(c);
        using var dd = accelerator.Allocate1D<float>(16 * 8);
        var config = accelerator.AcceleratorType == AcceleratorType.Cuda ? new KernelConfig(1, 32)
            : new KernelConfig(1, 32, SharedMemoryConfig.RequestDynamic<float>(TensorCoreMma.EmulationFloatsPerWarp));
        if (bf16)
            accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MmaBf16)(config, da.View, db.View, dc.View, dd.View);
        else
            accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MmaTf32)(config, da.View, db.View, dc.View, dd.View);
        accelerator.Synchronize();
        Assert.Equal(expected, dd.GetAsArray1D());
    }

    // ---- The test kernels: fragments from the ISA's formulas (groupID g = lane >> 2, threadID_in_group t = lane % 4) ---

    /// <summary>
    /// m16n8k8 .tf32: a_i at row g + 8·(i % 2), col t + 4·(i / 2); b_i at row t + 4·i, col g; c_i at row g + 8·(i / 2),
    /// col 2t + i % 2.
    /// </summary>
    private static void MmaTf32(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        int lane = Group.IdxX, g = lane >> 2, t = lane & 3;
        MmaA fa;
        fa.A0 = MmaRounding.Tf32Bits(a[(g + 0) * 8 + t + 0]);
        fa.A1 = MmaRounding.Tf32Bits(a[(g + 8) * 8 + t + 0]);
        fa.A2 = MmaRounding.Tf32Bits(a[(g + 0) * 8 + t + 4]);
        fa.A3 = MmaRounding.Tf32Bits(a[(g + 8) * 8 + t + 4]);
        MmaB fb;
        fb.B0 = MmaRounding.Tf32Bits(b[(t + 0) * 8 + g]);
        fb.B1 = MmaRounding.Tf32Bits(b[(t + 4) * 8 + g]);
        var r = TensorCoreMma.Mma<Tf32Mma>(C(c, g, t), fa, fb, Scratch(), lane);
        D(d, g, t, r);
    }

    /// <summary>
    /// m16n8k16 .bf16 (element i of a register pair: register i / 2, low half for even i): a_i at row g + 8·((i / 2) % 2),
    /// col 2t + i % 2 + 8·(i / 4); b_i at row 2t + i % 2 + 8·(i / 2), col g; C as for TF32.
    /// </summary>
    private static void MmaBf16(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        int lane = Group.IdxX, g = lane >> 2, t = lane & 3;
        MmaA fa;
        fa.A0 = MmaRounding.PackBf16x2(a[(g + 0) * 16 + 2 * t + 0], a[(g + 0) * 16 + 2 * t + 1]);      // a0, a1
        fa.A1 = MmaRounding.PackBf16x2(a[(g + 8) * 16 + 2 * t + 0], a[(g + 8) * 16 + 2 * t + 1]);      // a2, a3
        fa.A2 = MmaRounding.PackBf16x2(a[(g + 0) * 16 + 2 * t + 8], a[(g + 0) * 16 + 2 * t + 9]);      // a4, a5
        fa.A3 = MmaRounding.PackBf16x2(a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9]);      // a6, a7
        MmaB fb;
        fb.B0 = MmaRounding.PackBf16x2(b[(2 * t + 0) * 8 + g], b[(2 * t + 1) * 8 + g]);                // b0, b1
        fb.B1 = MmaRounding.PackBf16x2(b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g]);                // b2, b3
        var r = TensorCoreMma.Mma<Bf16Mma>(C(c, g, t), fa, fb, Scratch(), lane);
        D(d, g, t, r);
    }

    private static ArrayView<float> Scratch() => CudaAsm.IsSupported ? default : SharedMemory.GetDynamic<float>();

    private static MmaC C(ArrayView<float> c, int g, int t)
    {
        MmaC f;
        f.C0 = c[(g + 0) * 8 + 2 * t + 0];
        f.C1 = c[(g + 0) * 8 + 2 * t + 1];
        f.C2 = c[(g + 8) * 8 + 2 * t + 0];
        f.C3 = c[(g + 8) * 8 + 2 * t + 1];
        return f;
    }

    private static void D(ArrayView<float> d, int g, int t, MmaC r)
    {
        d[(g + 0) * 8 + 2 * t + 0] = r.C0;
        d[(g + 0) * 8 + 2 * t + 1] = r.C1;
        d[(g + 8) * 8 + 2 * t + 0] = r.C2;
        d[(g + 8) * 8 + 2 * t + 1] = r.C3;
    }
}
