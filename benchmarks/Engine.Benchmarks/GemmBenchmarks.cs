using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Runtime.Ops;
using NeuronEngine.Forward;

namespace NeuronEngine.Benchmarks;

/// <summary>
/// Our <see cref="GemmOp"/> (y = x·W + b, optionally GELU) against cuBLAS SGEMM (y = x·W, no bias) at GPT-2's
/// projection shapes: M tokens × K in × N out, for qkv (768×2304), MLP up (768×3072), MLP down (3072×768) and XL's
/// MLP up (1600×6400). FLOP/s = 2·M·K·N / time. Each case is "device/implementation/MxKxN":
/// <list type="bullet">
/// <item>ours: GemmOp's own tile choice; ours128 / ours64: a forced tile (for tuning the choice); ours+gelu: with
/// the GELU epilogue;</item>
/// <item>tf32 / bf16: the tensor-core GEMM (`--precision tf32|bf16`, TensorCoreGemmKernel, mma.sync), with bias; its
/// yardstick is torch.matmul with TF32 / bf16 on the same shapes (benchmarks/anchors/torch_gpt2.py --gemm);</item>
/// <item>cublas: ILGPU.Algorithms' CuBlas SGEMM, FP32 math (no TF32), the yardstick.</item>
/// </list>
/// CUDA cases are listed only when a CUDA device exists (and cublas ones only when libcublas loads), so on a machine
/// without a GPU the suite runs just the tiny CPU-accelerator case (which only proves the harness works: the CPU
/// accelerator is an emulator). Every iteration synchronises the accelerator, so timings include completion.
/// Run: dotnet run -c Release --project benchmarks/Engine.Benchmarks -- --filter '*Gemm*' [--job short]
/// </summary>
[MemoryDiagnoser(false)]
public class GemmBenchmarks
{
    private static readonly (int M, int K, int N)[] CudaShapes =
        [(4096, 768, 2304), (4096, 768, 3072), (4096, 3072, 768), (4096, 1600, 6400), (512, 768, 3072), (32768, 768, 3072)];

    private static readonly Lazy<(bool Cuda, bool CuBlas)> Available = new(Probe);

    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "cpu/ours/64x64x64";

    public static IEnumerable<string> Cases()
    {
        yield return "cpu/ours/64x64x64";
        yield return "cpu/tf32/64x64x64";   // the emulated mma.sync: proves the harness, not a speed
        var (cuda, cublas) = Available.Value;
        if (!cuda) yield break;
        foreach (var (m, k, n) in CudaShapes)
        {
            string shape = $"{m}x{k}x{n}";
            yield return $"cuda/ours/{shape}";
            yield return $"cuda/ours128/{shape}";
            yield return $"cuda/ours64/{shape}";
            if (m == 4096 && n > k) yield return $"cuda/ours+gelu/{shape}";
            yield return $"cuda/tf32/{shape}";
            yield return $"cuda/bf16/{shape}";
            if (cublas) yield return $"cuda/cublas/{shape}";
        }
    }

    private Context? _context;
    private Accelerator? _accelerator;
    private MemoryBuffer1D<float, Stride1D.Dense>? _x, _w, _b, _y;
    private GemmOp? _op;
    private CuBlas? _blas;
    private string _impl = "";
    private int _m, _k, _n;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Case.Split('/');
        var dims = parts[2].Split('x').Select(int.Parse).ToArray();
        (_impl, _m, _k, _n) = (parts[1], dims[0], dims[1], dims[2]);
        var precision = _impl is "tf32" or "bf16" ? MatMulPrecisions.Parse(_impl) : MatMulPrecision.Fp32;
        (_context, _accelerator) = parts[0] == "cuda"
            ? IlgpuContexts.TryCreateCuda() ?? throw new InvalidOperationException("no CUDA device")
            : precision == MatMulPrecision.Fp32 ? IlgpuContexts.CreateCpu()
            : IlgpuContexts.CreateCpu(warpSize: TensorCoreGemmKernel.WarpSize, warpsPerGroup: 8);

        var rng = new Random(1);
        float[] Fill(long count) => Enumerable.Range(0, checked((int)count)).Select(_ => rng.NextSingle() * 2 - 1).ToArray();
        _x = _accelerator.Allocate1D(Fill((long)_m * _k));
        _w = _accelerator.Allocate1D(Fill((long)_k * _n));
        _b = _accelerator.Allocate1D(Fill(_n));
        _y = _accelerator.Allocate1D<float>((long)_m * _n);

        if (_impl == "cublas")
        {
            _blas = new CuBlas((CudaAccelerator)_accelerator) { PointerMode = CuBlasPointerMode.Host, MathMode = CuBlasMathMode.DefaultMath };
        }
        else
        {
            _op = new GemmOp(_accelerator, precision);
        }
        Gemm(); // compile the kernel (or warm cuBLAS) outside the measurements
    }

    [Benchmark]
    public void Gemm()
    {
        var stream = _accelerator!.DefaultStream;
        switch (_impl)
        {
            case "cublas":
                // Row-major Y[M,N] = X[M,K]·W[K,N] is column-major Yᵀ = Wᵀ·Xᵀ: (N×K)·(K×M), leading dims N, K, N.
                _blas!.Gemm(CuBlasOperation.NonTranspose, CuBlasOperation.NonTranspose, _n, _m, _k,
                    1f, _w!.View, _n, _x!.View, _k, 0f, _y!.View, _n);
                break;
            case "ours128":
                _op!.Launch(stream, _x!.View, _w!.View, _b!.View, _y!.View, _m, _k, _n, false, GemmTileChoice.Tile128);
                break;
            case "ours64":
                _op!.Launch(stream, _x!.View, _w!.View, _b!.View, _y!.View, _m, _k, _n, false, GemmTileChoice.Tile64);
                break;
            default:
                _op!.Launch(stream, _x!.View, _w!.View, _b!.View, _y!.View, _m, _k, _n, _impl == "ours+gelu");
                break;
        }
        _accelerator.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _blas?.Dispose();
        _x?.Dispose();
        _w?.Dispose();
        _b?.Dispose();
        _y?.Dispose();
        _accelerator?.Dispose();
        _context?.Dispose();
    }

    /// <summary>Is there a CUDA device, and does cuBLAS load on it? (Any failure means "no": cases are skipped.)</summary>
    private static (bool Cuda, bool CuBlas) Probe()
    {
        var cuda = IlgpuContexts.TryCreateCuda();
        if (cuda is not { } c) return (false, false);
        try
        {
            using var blas = new CuBlas((CudaAccelerator)c.Accelerator);
            return (true, true);
        }
        catch (Exception) // a missing or mismatched libcublas surfaces as various exception types
        {
            return (true, false);
        }
        finally
        {
            c.Accelerator.Dispose();
            c.Context.Dispose();
        }
    }
}
