using System.Reflection;
using NeuronEngine.Cli;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Runtime;

/// <summary>
/// KernelCatalog is the one list of kernels the runtime loads: every kernel method is in it (each generic
/// instantiation the kernel's type parameters allow), nothing loads a kernel around it, and `engine ptx` writes one
/// PTX file per entry. Cheap: reflection, IL and the offline PTX backend only.
/// </summary>
public class KernelCatalogTests
{
    /// <summary>The catalogue entry named <paramref name="field"/> (a static field of <see cref="KernelCatalog"/>).</summary>
    internal static CatalogKernel Entry(string field) =>
        (CatalogKernel)(typeof(KernelCatalog).GetField(field)?.GetValue(null) ?? throw new ArgumentException($"KernelCatalog.{field} not found"));

    [Fact]
    public void EveryKernelMethodAndInstantiationIsCatalogued()
    {
        var kernelsAssembly = typeof(GemmKernel).Assembly;
        // Kernels are the public static void methods of the kernel assembly (its helpers all return values).
        var kernels = kernelsAssembly.GetExportedTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void))
            .ToList();
        Assert.NotEmpty(kernels);
        var catalogued = KernelCatalog.All.Select(k => k.Method).ToList();
        Assert.All(catalogued, m => Assert.Same(kernelsAssembly, m.DeclaringType!.Assembly));
        Assert.Equal(KernelCatalog.All.Count, KernelCatalog.All.Select(k => k.Name).Distinct().Count());

        foreach (var kernel in kernels)
        {
            var instances = catalogued.Where(m => (m.IsGenericMethod ? m.GetGenericMethodDefinition() : m) == kernel).ToList();
            Assert.True(instances.Count > 0, $"{kernel.DeclaringType!.Name}.{kernel.Name} is not in KernelCatalog");
            if (!kernel.IsGenericMethodDefinition) continue;
            // Every combination of the structs implementing each type parameter's interface (e.g. tile × staging).
            var choices = kernel.GetGenericArguments().Select(p => kernelsAssembly.GetTypes()
                .Where(t => t.IsValueType && p.GetGenericParameterConstraints().All(c => c.IsAssignableFrom(t))).ToList());
            var combinations = choices.Aggregate(new[] { Array.Empty<Type>() }.AsEnumerable(),
                (acc, options) => acc.SelectMany(a => options.Select(o => a.Append(o).ToArray())));
            foreach (var args in combinations)
                Assert.Contains(instances, m => m.GetGenericArguments().SequenceEqual(args));
        }
    }

    [Fact]
    public void NothingLoadsAKernelAroundTheCatalogue()
    {
        var allowed = new[] { typeof(CatalogKernel), typeof(CatalogKernel<>) };
        var offenders = new List<string>();
        foreach (var assembly in new[] { typeof(KernelCatalog).Assembly, typeof(EngineCli).Assembly })
            foreach (var type in assembly.GetTypes().Where(t => !allowed.Contains(t.IsGenericType ? t.GetGenericTypeDefinition() : t)))
                foreach (var method in type.GetMethods(IlReferences.AllDeclared).Cast<MethodBase>().Concat(type.GetConstructors(IlReferences.AllDeclared)))
                    foreach (var callee in IlReferences.Callees(method))
                        if (callee.DeclaringType?.Assembly == typeof(ILGPU.Context).Assembly
                            && callee.Name.StartsWith("Load", StringComparison.Ordinal) && callee.Name.Contains("Kernel"))
                            offenders.Add($"{type.FullName}.{method.Name} calls {callee.DeclaringType.Name}.{callee.Name}");
        Assert.Empty(offenders);
    }

    [Fact]
    public void PtxCommandWritesOnePtxFilePerEntryAndAnIndex()
    {
        using var dir = new TempDir();
        Assert.Equal(0, EngineCli.Run("ptx", "--out", dir.Path));
        var files = Directory.GetFiles(dir.Path, "*.ptx").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(KernelCatalog.All.Select(k => k.Name + ".ptx").Order(), files);
        var index = File.ReadAllLines(dir["index.tsv"]);
        Assert.Equal(KernelCatalog.All.Count + 1, index.Length);
        Assert.StartsWith("name\tfile\tgrouping\tgroup_size", index[0]);
        foreach (var kernel in KernelCatalog.All)
        {
            string ptx = File.ReadAllText(dir[kernel.Name + ".ptx"]);
            Assert.Contains(".version 7.8", ptx);  // what ptxas 11.8 reads
            Assert.Contains(".entry", ptx);
            if (kernel.Specialization.MaxNumThreadsPerGroup is int threads) Assert.Contains($".maxntid {threads}, 1, 1", ptx);
            else Assert.DoesNotContain(".maxntid", ptx);
            Assert.Contains(index, row => row.StartsWith(kernel.Name + "\t", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("--device", "cpu")]
    [InlineData("--isa", "9.9")]
    [InlineData("--arch", "90")]
    public void PtxCommandRefusesBadOptions(string option, string value)
    {
        using var dir = new TempDir();
        Assert.Equal(CommandRunner.BadInput, EngineCli.Run("ptx", "--out", dir.Path, option, value));
    }
}
