using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;
using NeuronEngine.Runtime;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine ptx --out DIR [--device cuda] [--isa 7.8] [--arch sm_90]`: one `.ptx` file per kernel of
/// <see cref="KernelCatalog"/> (compiled exactly as the runtime loads it) and `DIR/index.tsv`. Offline (default) it
/// uses ILGPU's PTX backend and needs no GPU; with `--device cuda` it loads every kernel on the CUDA device and writes
/// the PTX the accelerator compiled plus the driver's occupancy and register figures. scripts/ptx-report.sh runs
/// ptxas on the files.
/// </summary>
public static partial class PtxCommand
{
    /// <summary>The default ISA: the newest that Debian's ptxas 11.8 reads (scripts/ptx-report.sh uses it offline).</summary>
    public const string DefaultIsa = "7.8";

    /// <summary>Columns of index.tsv, in order.</summary>
    public static readonly string[] IndexColumns =
    [
        "name", "file", "grouping", "group_size", "dynamic_shared_bytes", "maxntid", "minnctapersm", "ptx_isa", "ptx_target",
        "source", "cuda_blocks_per_sm", "cuda_registers", "cuda_local_bytes",
    ];

    public static Command Create()
    {
        var outDir = CommonOptions.Out("directory for the .ptx files and index.tsv");
        var device = new Option<string?>("--device") { Description = "cuda: load every kernel on the CUDA device (real PTX, occupancy); default: offline, no GPU needed" };
        var isa = new Option<string?>("--isa") { Description = $"PTX ISA of the offline compile, e.g. 7.8 (ptxas 11.8 reads ≤ 7.8) or 8.8 (default {DefaultIsa})" };
        var arch = new Option<string>("--arch") { Description = "target architecture of the offline compile", DefaultValueFactory = _ => "sm_90" };
        var cmd = new Command("ptx", "write the PTX of every kernel the runtime loads (for ptxas reports)") { outDir, device, isa, arch };
        cmd.SetAction(r =>
        {
            string dir = r.GetValue(outDir)!;
            string? deviceName = r.GetValue(device);
            IReadOnlyList<KernelPtx.Result> results;
            string source;
            if (deviceName is null)
            {
                var architecture = ParseArchitecture(r.GetValue(arch)!);
                var instructionSet = ParseIsa(r.GetValue(isa) ?? DefaultIsa);
                results = KernelPtx.CompileOffline(architecture, instructionSet).ToList();
                source = "offline";
            }
            else if (deviceName == "cuda")
            {
                if (r.GetValue(isa) is not null)
                    throw new ArgumentException("--isa: only for offline compiles; with --device cuda the driver's ISA is used");
                var (context, accelerator) = IlgpuContexts.TryCreateCuda()
                    ?? throw new NotSupportedException("--device cuda: no CUDA device found (is an NVIDIA driver with libcuda.so installed?)");
                using (context)
                using (accelerator)
                    results = KernelPtx.LoadOnDevice((CudaAccelerator)accelerator).ToList();
                source = "cuda";
            }
            else
            {
                throw new ArgumentException($"--device: '{deviceName}' is not supported here (only cuda; omit it to compile offline)");
            }

            Directory.CreateDirectory(dir);
            var index = new StringBuilder(string.Join('\t', IndexColumns)).Append('\n');
            foreach (var p in results)
            {
                string file = p.Kernel.Name + ".ptx";
                File.WriteAllText(Path.Combine(dir, file), p.Ptx);
                var spec = p.Kernel.Specialization;
                string[] row =
                [
                    p.Kernel.Name, file, p.Kernel.Grouping == KernelGrouping.Explicit ? "explicit" : "auto",
                    Cell(p.GroupSize), Cell(p.DynamicSharedBytes), Cell(spec.MaxNumThreadsPerGroup), Cell(spec.MinNumGroupsPerMultiprocessor),
                    Directive(p.Ptx, VersionLine()), Directive(p.Ptx, TargetLine()),
                    source, Cell(p.MaxGroupsPerMultiprocessor), Cell(p.Registers), Cell(p.LocalBytes),
                ];
                index.Append(string.Join('\t', row)).Append('\n');
            }
            File.WriteAllText(Path.Combine(dir, "index.tsv"), index.ToString());
            Console.WriteLine($"{results.Count} kernels ({source}) -> {dir}/*.ptx, {dir}/index.tsv");
            return 0;
        });
        return cmd;
    }

    private static CudaInstructionSet ParseIsa(string text)
    {
        var m = Regex.Match(text, @"^(\d+)\.(\d)$");
        if (!m.Success) throw new ArgumentException($"--isa: '{text}' is not MAJOR.MINOR (e.g. 7.8)");
        var isa = new CudaInstructionSet(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        if (!PTXCodeGenerator.SupportedInstructionSets.Contains(isa))
            throw new ArgumentException($"--isa: ILGPU does not generate PTX ISA {isa} (it knows {string.Join(", ", PTXCodeGenerator.SupportedInstructionSets.Reverse())})");
        return isa;
    }

    private static CudaArchitecture ParseArchitecture(string text)
    {
        var m = Regex.Match(text, @"^sm_(\d+)(\d)$");
        if (!m.Success) throw new ArgumentException($"--arch: '{text}' is not sm_XY (e.g. sm_90)");
        return new CudaArchitecture(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    private static string Cell(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "";

    private static string Directive(string ptx, Regex line) => line.Match(ptx) is { Success: true } m ? m.Groups[1].Value : "";

    [GeneratedRegex(@"^\s*\.version\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex VersionLine();

    [GeneratedRegex(@"^\s*\.target\s+([^\s,]+)", RegexOptions.Multiline)]
    private static partial Regex TargetLine();
}
