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
/// CUDA cases are listed only when a CUDA device exists (and cublas ones only when libcublas loads; the probe prints
/// why not), so on a machine without a GPU the suite runs just the tiny CPU-accelerator cases (which only prove the
/// harness works: the CPU accelerator is an emulator). ENGINE_GEMM_CASES (comma-separated prefixes of case names, e.g.
/// "cuda/ours,cuda/cublas") keeps only the cases it names; scripts/gpu-steps/gemm.sh sets it. The cases of one device
/// and precision share one accelerator and GemmOp, so kernels compile once per precision, not once per case. Every
/// iteration synchronises the accelerator, so timings include completion.
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

    public static IEnumerable<string> Cases() => AllCases().Where(Selected);

    private static IEnumerable<string> AllCases()
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

    /// <summary>Whether ENGINE_GEMM_CASES (unset: every case) names the case or a "device/implementation" prefix of it.</summary>
    private static bool Selected(string c) =>
        Environment.GetEnvironmentVariable("ENGINE_GEMM_CASES") is not { Length: > 0 } filter
        || filter.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Any(f => c == f || c.StartsWith(f + "/", StringComparison.Ordinal));

    /// <summary>One accelerator and op per device and precision, shared by its cases; released when the process exits.</summary>
    private sealed record SharedDevice(Context Context, Accelerator Accelerator, GemmOp Op);
    private static readonly Dictionary<(string Device, MatMulPrecision Precision), SharedDevice> Shared = [];

    private static SharedDevice SharedFor(string device, MatMulPrecision precision)
    {
        lock (Shared)
        {
            if (Shared.TryGetValue((device, precision), out var s)) return s;
            var (context, accelerator) = device == "cuda"
                ? IlgpuContexts.TryCreateCuda() ?? throw new InvalidOperationException("no CUDA device")
                : precision == MatMulPrecision.Fp32 ? IlgpuContexts.CreateCpu()
                : IlgpuContexts.CreateCpu(warpSize: TensorCoreGemmKernel.WarpSize, warpsPerGroup: 8);
            if (Shared.Count == 0) AppDomain.CurrentDomain.ProcessExit += (_, _) => ReleaseShared();
            return Shared[(device, precision)] = new SharedDevice(context, accelerator, new GemmOp(accelerator, precision));
        }
    }

    private static void ReleaseShared()
    {
        lock (Shared)
        {
            foreach (var s in Shared.Values)
            {
                s.Accelerator.Dispose();
                s.Context.Dispose();
            }
            Shared.Clear();
        }
    }

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
        var shared = SharedFor(parts[0], precision);
        (_accelerator, _op) = (shared.Accelerator, shared.Op);

        var rng = new Random(1);
        float[] Fill(long count) => Enumerable.Range(0, checked((int)count)).Select(_ => rng.NextSingle() * 2 - 1).ToArray();
        _x = _accelerator.Allocate1D(Fill((long)_m * _k));
        _w = _accelerator.Allocate1D(Fill((long)_k * _n));
        _b = _accelerator.Allocate1D(Fill(_n));
        _y = _accelerator.Allocate1D<float>((long)_m * _n);

        if (_impl == "cublas")
            _blas = new CuBlas((CudaAccelerator)_accelerator) { PointerMode = CuBlasPointerMode.Host, MathMode = CuBlasMathMode.DefaultMath };
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
    }

    /// <summary>
    /// Is there a CUDA device, and does cuBLAS load on it? Any failure means "no" (its cases are not listed); why is
    /// printed, as "// cuBLAS unavailable: …", which scripts/gpu-steps/gemm.sh reports when no cuBLAS case ran.
    /// </summary>
    private static (bool Cuda, bool CuBlas) Probe()
    {
        var cuda = IlgpuContexts.TryCreateCuda();
        if (cuda is not { } c) return (false, false);
        try
        {
            using var blas = new CuBlas((CudaAccelerator)c.Accelerator);
            Console.WriteLine($"// cuBLAS loaded on {c.Accelerator.Name}");
            return (true, true);
        }
        catch (Exception e) // a missing or mismatched libcublas surfaces as various exception types
        {
            Console.WriteLine($"// cuBLAS unavailable: {e.GetType().Name}: {e.Message}" +
                (e.InnerException is { } inner ? $" ({inner.GetType().Name}: {inner.Message})" : ""));
            return (true, false);
        }
        finally
        {
            c.Accelerator.Dispose();
            c.Context.Dispose();
        }
    }
}
