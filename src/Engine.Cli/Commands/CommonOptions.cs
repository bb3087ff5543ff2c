using System.CommandLine;
using NeuronEngine.Kernels;

namespace NeuronEngine.Cli.Commands;

/// <summary>Options shared by the commands that run the model (DESIGN §6).</summary>
public static class CommonOptions
{
    public static Option<string?> Model() => new("--model") { Description = "directory with model.safetensors (+ config.json), or the .safetensors file" };
    public static Option<string?> Preset() => new("--preset") { Description = "synthetic (seeded random) weights of a GPT-2 shape: gpt2, gpt2-medium, gpt2-large, gpt2-xl" };
    public static Option<string?> Corpus() => new("--corpus") { Description = ".txt, .jsonl (a \"text\" field per line) or llm.c .bin token file; default: the bundled sample text" };
    public static Option<string> Layers() => new("--layers") { Description = "all, or indices and ranges such as 0,3,5-7", DefaultValueFactory = _ => "all" };
    public static Option<int> SeqLen() => new("--seq-len") { Description = "tokens per window", DefaultValueFactory = _ => 64 };
    public static Option<string> Device() => new("--device") { Description = "auto|cuda|opencl|ilgpu-cpu|cpu", DefaultValueFactory = _ => "auto" };
    public static Option<long?> MaxWindows() => new("--max-windows") { Description = "use at most this many windows of the corpus" };
    public static Option<int?> Batch() => new("--batch") { Description = "windows per forward batch (default: the device's choice)" };
    public static Option<string> Precision() => new("--precision")
    {
        Description = "GEMM precision: fp32 (default, the reference), tf32 or bf16 (tensor cores on CUDA sm_80+; emulated on cpu and ilgpu-cpu); see docs/precision.md",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary>The value of <see cref="Precision"/>, checked (a bad name is one `error:` line and exit code 2).</summary>
    public static MatMulPrecision ParsePrecision(string text) => MatMulPrecisions.Parse(text, "--precision");

    public static Option<int> Seed() => new("--seed") { Description = "seed of synthetic weights (and of sampling, where a command samples)", DefaultValueFactory = _ => 0 };
}
