using ILGPU;
using NeuronEngine.Numerics;

namespace NeuronEngine.Kernels;

/// <summary>Element-wise kernels: the residual add, widening 16-bit weights to float32, and the fan-out and patches of ablation.</summary>
public static class ElementwiseKernels
{
    /// <summary>
    /// Fan-out of the residual stream: destination[i] = source[map[e]·rowLength + r] with e = i / rowLength,
    /// r = i mod rowLength (rowLength = seqLen·d: element e continues window map[e]). CPU reference: CpuGpt2Forward.Run.
    /// </summary>
    public static void GatherRows(Index1D i, ArrayView<float> source, ArrayView<float> destination, ArrayView<int> map, int rowLength)
    {
        int e = i / rowLength;
        destination[i] = source[(long)map[e] * rowLength + (i - e * rowLength)];
    }

    /// <summary>
    /// Patching MLP neurons before c_proj: h[i·width + neurons[e]] = values[i] for position i = e·seqLen + t, where
    /// element e patches a neuron (neurons[e] ≥ 0) and values[i] is not NaN. CPU reference: MlpPatch.Apply.
    /// </summary>
    public static void PatchNeurons(Index1D i, ArrayView<float> h, ArrayView<int> neurons, ArrayView<float> values, int seqLen, int width)
    {
        int position = i, neuron = neurons[position / seqLen];
        float v = values[position];
        if (neuron >= 0 && !float.IsNaN(v)) h[(long)position * width + neuron] = v;
    }

    /// <summary>Residual stream: x[i] += y[i].</summary>
    public static void AddInPlace(Index1D i, ArrayView<float> x, ArrayView<float> y) => x[i] += y[i];

    /// <summary>f32 ← f16 (IEEE half bits), decoded by <typeparamref name="THalf"/> (both exact).</summary>
    public static void WidenF16<THalf>(Index1D i, ArrayView<ushort> source, ArrayView<float> destination) where THalf : struct, IHalfDecode =>
        destination[i] = default(THalf).ToFloat(source[i]);

    /// <summary>f32 ← bf16: a bf16 is the top 16 bits of a float32.</summary>
    public static void WidenBF16(Index1D i, ArrayView<ushort> source, ArrayView<float> destination) =>
        destination[i] = Decode.BF16(source[i]);
}

/// <summary>Decoding 16-bit float patterns inside kernels (System.Half does not compile there).</summary>
public static class Decode
{
    public static float BF16(ushort bits) => Interop.IntAsFloat((uint)bits << 16);
}

/// <summary>
/// IEEE half → float inside kernels, chosen per accelerator: <see cref="HardwareHalf"/> where the device has fp16 (CUDA:
/// one cvt.f32.f16), <see cref="IntegerHalf"/> where it has not (ILGPU refuses to compile its Half type for an OpenCL
/// device without cl_khr_fp16). Both give the exact float.
/// </summary>
public interface IHalfDecode
{
    float ToFloat(ushort bits);
}

/// <summary>ILGPU.Half widens exactly (cvt.f32.f16 in PTX); needs fp16 support on the device.</summary>
public struct HardwareHalf : IHalfDecode
{
    public readonly float ToFloat(ushort bits) => (float)Interop.IntAsFloat(bits);
}

/// <summary>Integer operations on the bit pattern only (<see cref="HalfBits"/>): runs on any device.</summary>
public struct IntegerHalf : IHalfDecode
{
    public readonly float ToFloat(ushort bits) => HalfBits.ToFloat(bits);
}
