using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;

namespace NeuronEngine.Runtime.Ops;

/// <summary>
/// Host side of <see cref="EmbeddingKernel"/>: x[t, i] = wte[token[t], i] + wpe[t mod seqLen, i] for t &lt; tokenCount.
/// The tables arrive as raw bytes in their storage format and are reinterpreted here (no conversion, no copy).
/// Token ids must already be validated against the vocabulary (the kernel does not check them). Each format's kernel is
/// compiled on first use (an F32 model never compiles F16 code), F16 decoded as the accelerator's plan says.
/// </summary>
public sealed class EmbeddingOp(Accelerator a)
{
    private Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>? _f32;
    private Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, int, int>? _f16;
    private Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, int, int>? _bf16;

    /// <summary>Launches asynchronously on <paramref name="s"/>; views may be longer than needed.</summary>
    public void Launch(AcceleratorStream s, ArrayView<int> tokens, ArrayView<byte> wte, ArrayView<byte> wpe, WeightFormat format,
        ArrayView<float> x, int tokenCount, int seqLen, int d)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokenCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seqLen);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d);
        if (tokenCount == 0) return;
        long elements = (long)tokenCount * d;
        if (elements > int.MaxValue) throw new ArgumentException($"{tokenCount} tokens × {d} exceeds one launch");
        int size = format == WeightFormat.F32 ? sizeof(float) : sizeof(ushort);
        long positions = Math.Min(seqLen, tokenCount);
        if (tokens.Length < tokenCount) throw new ArgumentException($"tokens holds {tokens.Length} ids, {tokenCount} needed");
        if (x.Length < elements) throw new ArgumentException($"x holds {x.Length} floats, {elements} needed");
        if (wte.Length < (long)d * size) throw new ArgumentException("wte holds less than one row");
        if (wpe.Length < positions * d * size) throw new ArgumentException($"wpe holds {wpe.Length} bytes, {positions} positions × {d} × {size} needed");

        var t = tokens.SubView(0, tokenCount);
        var output = x.SubView(0, elements);
        switch (format)
        {
            case WeightFormat.F32:
                (_f32 ??= KernelCatalog.EmbedF32.Load(a))(s, (int)elements, t, As<float>(wte, size), As<float>(wpe, size), output, seqLen, d);
                break;
            case WeightFormat.F16:
                (_f16 ??= (AcceleratorPlan.For(a).HardwareHalf ? KernelCatalog.EmbedF16 : KernelCatalog.EmbedF16Bits).Load(a))(s, (int)elements, t, As<ushort>(wte, size), As<ushort>(wpe, size), output, seqLen, d);
                break;
            case WeightFormat.BF16:
                (_bf16 ??= KernelCatalog.EmbedBF16.Load(a))(s, (int)elements, t, As<ushort>(wte, size), As<ushort>(wpe, size), output, seqLen, d);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, null);
        }
    }

    /// <summary>Reinterprets raw bytes as elements, dropping a trailing partial element (views may be longer than needed).</summary>
    private static ArrayView<T> As<T>(ArrayView<byte> bytes, int size) where T : unmanaged =>
        bytes.SubView(0, bytes.Length / size * size).Cast<T>(); // ArrayView<T>.Cast, the instance method (not LINQ)
}
