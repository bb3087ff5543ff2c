using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Format;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Runtime.Ops;

namespace NeuronEngine.Runtime;

/// <summary>
/// GPT-2's weights on a device, uploaded once straight from the memory map (no host copy). Matrices, biases
/// and norms are widened to float32 on the device (the GEMMs compute in fp32); wte/wpe stay in their storage
/// dtype (wte is the largest tensor; the embedding gather decodes 16-bit on the fly). Layers are uploaded on
/// first use, so a run that stops at layer 5 never uploads layers 6 and up.
/// </summary>
public sealed unsafe class DeviceWeights : IDisposable
{
    public sealed record Layer(
        MemoryBuffer1D<float, Stride1D.Dense> Ln1W, MemoryBuffer1D<float, Stride1D.Dense> Ln1B,
        MemoryBuffer1D<float, Stride1D.Dense> AttnW, MemoryBuffer1D<float, Stride1D.Dense> AttnB,
        MemoryBuffer1D<float, Stride1D.Dense> AttnProjW, MemoryBuffer1D<float, Stride1D.Dense> AttnProjB,
        MemoryBuffer1D<float, Stride1D.Dense> Ln2W, MemoryBuffer1D<float, Stride1D.Dense> Ln2B,
        MemoryBuffer1D<float, Stride1D.Dense> FcW, MemoryBuffer1D<float, Stride1D.Dense> FcB,
        MemoryBuffer1D<float, Stride1D.Dense> FcProjW, MemoryBuffer1D<float, Stride1D.Dense> FcProjB);

    private readonly Accelerator _accelerator;
    private readonly Gpt2Weights _weights;
    private readonly ElementwiseOps _elementwise;
    private readonly List<MemoryBuffer> _owned = [];
    private readonly Layer?[] _layers;
    private Unembedding? _head;

    /// <summary>The LM head: ln_f and the tied embedding transposed to the GEMM's Conv1D layout [d, V], with a zero bias.</summary>
    public sealed record Unembedding(
        MemoryBuffer1D<float, Stride1D.Dense> LnFW, MemoryBuffer1D<float, Stride1D.Dense> LnFB,
        MemoryBuffer1D<float, Stride1D.Dense> WteT, MemoryBuffer1D<float, Stride1D.Dense> ZeroBias);

    public MemoryBuffer1D<byte, Stride1D.Dense> Wte { get; }
    public MemoryBuffer1D<byte, Stride1D.Dense> Wpe { get; }
    public WeightFormat EmbeddingFormat { get; }

    public DeviceWeights(Accelerator accelerator, Gpt2Weights weights, ElementwiseOps elementwise)
    {
        _accelerator = accelerator; _weights = weights; _elementwise = elementwise;
        _layers = new Layer?[weights.Config.NLayer];
        var wte = weights.Entry("wte.weight");
        var wpe = weights.Entry("wpe.weight");
        if (wte.DType != wpe.DType)
            throw new ModelException(weights.File.Path, $"wte is {wte.DType} but wpe is {wpe.DType}; the device embedding needs one dtype");
        EmbeddingFormat = Format(wte.DType);
        Wte = Raw("wte.weight");
        Wpe = Raw("wpe.weight");
    }

    public static WeightFormat Format(TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => WeightFormat.F32,
        TensorDType.F16 => WeightFormat.F16,
        TensorDType.BF16 => WeightFormat.BF16,
        _ => throw new ArgumentException($"weights of dtype {dtype} are not supported"),
    };

    public Layer Get(int layer)
    {
        if (_layers[layer] is { } cached) return cached;
        string p = $"h.{layer}.";
        var loaded = new Layer(
            Float(p + "ln_1.weight"), Float(p + "ln_1.bias"), Float(p + "attn.c_attn.weight"), Float(p + "attn.c_attn.bias"),
            Float(p + "attn.c_proj.weight"), Float(p + "attn.c_proj.bias"), Float(p + "ln_2.weight"), Float(p + "ln_2.bias"),
            Float(p + "mlp.c_fc.weight"), Float(p + "mlp.c_fc.bias"), Float(p + "mlp.c_proj.weight"), Float(p + "mlp.c_proj.bias"));
        _accelerator.Synchronize();
        return _layers[layer] = loaded;
    }

    /// <summary>
    /// The LM head, uploaded on first use (only commands that need logits pay for it): wteᵀ as float32 [d, V] (4·d·V
    /// bytes: 322 MB for gpt2-xl), transposed on the host (<see cref="Gpt2Weights.UnembeddingMatrix"/>).
    /// </summary>
    public Unembedding Head()
    {
        if (_head is { } cached) return cached;
        var c = _weights.Config;
        int v = c.VocabSize;
        var transposed = _weights.UnembeddingMatrix();
        var wteT = _accelerator.Allocate1D<float>(transposed.LongLength);
        _owned.Add(wteT);
        wteT.View.CopyFromCPU(transposed);
        var zeros = _accelerator.Allocate1D<float>(v);
        _owned.Add(zeros);
        zeros.MemSetToZero();
        _accelerator.Synchronize();
        return _head = new Unembedding(Float("ln_f.weight"), Float("ln_f.bias"), wteT, zeros);
    }

    private MemoryBuffer1D<byte, Stride1D.Dense> Raw(string name)
    {
        var e = _weights.Entry(name);
        var buffer = _accelerator.Allocate1D<byte>(e.ByteLength);
        buffer.View.CopyFromCPU(ref Unsafe.AsRef<byte>(_weights.Pointer(name)), e.ByteLength);
        _owned.Add(buffer);
        return buffer;
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Float(string name)
    {
        var e = _weights.Entry(name);
        var buffer = _accelerator.Allocate1D<float>(e.ElementCount);
        _owned.Add(buffer);
        if (e.DType == TensorDType.F32)
        {
            buffer.View.CopyFromCPU(ref Unsafe.AsRef<float>(_weights.Pointer(name)), e.ElementCount);
            return buffer;
        }
        using var staging = _accelerator.Allocate1D<ushort>(e.ElementCount);
        staging.View.CopyFromCPU(ref Unsafe.AsRef<ushort>(_weights.Pointer(name)), e.ElementCount);
        _elementwise.Widen(_accelerator.DefaultStream, staging.View, Format(e.DType), buffer.View);
        _accelerator.Synchronize();
        return buffer;
    }

    public long BytesOnDevice => _owned.Sum(b => b.LengthInBytes);

    public void Dispose()
    {
        foreach (var b in _owned) b.Dispose();
        _owned.Clear();
    }
}
