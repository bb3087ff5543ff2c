using System.Reflection;
using NeuronEngine.Cli;
using NeuronEngine.Explain;
using NeuronEngine.Kernels;
using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;
using NeuronEngine.View;

namespace NeuronEngine.Tests.Architecture;

/// <summary>
/// The stages depend in one direction (README, Layout): Format → Model → Forward → Pass/Sinks → Records → Explain/Score
/// → View, then the CLI that composes them; no stage uses a later one. Checked from the compiled assemblies (every
/// type's base, interfaces, fields, properties, signatures and the members and types its method bodies refer to), so it
/// stays true as code moves. Each namespace belongs to one stage.
/// </summary>
public class DependencyDirectionTests
{
    private static readonly string[] Stages = ["Format", "Model", "Forward", "Pass/Sinks", "Records", "Explain/Score", "View", "CLI"];

    /// <summary>Namespace → stage (index into <see cref="Stages"/>).</summary>
    private static readonly Dictionary<string, int> StageOf = new()
    {
        ["NeuronEngine.IO"] = 0, ["NeuronEngine.Format"] = 0, ["NeuronEngine.OpenAi"] = 0, ["NeuronEngine.Numerics"] = 0,
        ["NeuronEngine.Model"] = 1, ["NeuronEngine.Text"] = 1, ["NeuronEngine.Corpus"] = 1,
        ["NeuronEngine.Forward"] = 2, ["NeuronEngine.Cpu"] = 2, ["NeuronEngine.Kernels"] = 2, ["NeuronEngine.Runtime"] = 2, ["NeuronEngine.Runtime.Ops"] = 2,
        ["NeuronEngine.Pass"] = 3, ["NeuronEngine.Dump"] = 3, ["NeuronEngine.Probe"] = 3, ["NeuronEngine.Eval"] = 3, ["NeuronEngine.Precision"] = 3, ["NeuronEngine.Runtime.Dump"] = 3,
        ["NeuronEngine.Records"] = 4, ["NeuronEngine.Runtime.Records"] = 4, ["NeuronEngine.Related"] = 4, ["NeuronEngine.Runtime.Related"] = 4, ["NeuronEngine.Connections"] = 4, ["NeuronEngine.Runtime.Connections"] = 4, ["NeuronEngine.Ablation"] = 4,
        ["NeuronEngine.Scoring"] = 5, ["NeuronEngine.Runtime.Scoring"] = 5, ["NeuronEngine.Explain"] = 5,
        ["NeuronEngine.View"] = 6,
        ["NeuronEngine.Cli"] = 7, ["NeuronEngine.Cli.Commands"] = 7, ["NeuronEngine.Cli.Reporting"] = 7,
    };

    private static readonly Assembly[] Engine =
    [
        typeof(Gpt2Config).Assembly, typeof(GemmKernel).Assembly, typeof(KernelCatalog).Assembly,
        typeof(ExplainRunner).Assembly, typeof(SiteBuilder).Assembly, typeof(EngineCli).Assembly,
    ];

    [Fact]
    public void EveryEngineNamespaceHasAStage()
    {
        var unknown = Engine.SelectMany(a => a.GetTypes()).Select(t => t.Namespace).OfType<string>()
            .Where(ns => ns.StartsWith("NeuronEngine", StringComparison.Ordinal) && !StageOf.ContainsKey(ns)).Distinct().ToList();
        Assert.True(unknown.Count == 0, "Namespaces without a stage: " + string.Join(", ", unknown));
    }

    [Fact]
    public void NoStageUsesALaterOne()
    {
        var violations = new SortedSet<string>();
        foreach (var type in Engine.SelectMany(a => a.GetTypes()))
        {
            if (type.Namespace is not { } ns || !StageOf.TryGetValue(ns, out int stage)) continue;
            foreach (var used in Uses(type))
                if (used.Namespace is { } usedNs && StageOf.TryGetValue(usedNs, out int usedStage) && usedStage > stage)
                    violations.Add($"{Stages[stage]} {type.FullName} uses {Stages[usedStage]} {used.FullName}");
        }
        Assert.True(violations.Count == 0, "Stages used by an earlier one:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void CoreCarriesNoDeviceOrPlottingLibrary()
    {
        var references = typeof(Gpt2Config).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.DoesNotContain(references, n => n.StartsWith("ILGPU", StringComparison.Ordinal) || n is "Engine.Kernels"
            || n.StartsWith("ScottPlot", StringComparison.Ordinal) || n.StartsWith("SkiaSharp", StringComparison.Ordinal));
    }

    /// <summary>
    /// Core types other projects use only through their constants (Moments.Stride, RecordKeys.MaxWindows,
    /// TokenTableFile.FileName, …): C# copies a constant's value into the user's IL, so no reference shows there.
    /// </summary>
    private static readonly string[] PublicForConstants = ["RecordKeys", "Moments", "QuantileBoundaries", "TokenTableFile", "TokenKeys"];

    /// <summary>
    /// "public" in Engine.Core means API: every public Core type is used by another engine assembly or appears in the
    /// public surface (base, interfaces, public members' signatures) of a public Core type; the rest is internal.
    /// </summary>
    [Fact]
    public void CorePublicTypesAreUsedOutsideCore()
    {
        var core = typeof(Gpt2Config).Assembly;
        var needed = new HashSet<Type>(Engine.Where(a => a != core).SelectMany(a => a.GetTypes()).SelectMany(Uses)
            .Select(t => t.IsGenericType ? t.GetGenericTypeDefinition() : t));
        var publicCore = core.GetTypes().Where(t => t.IsPublic || t.IsNestedPublic).ToList();
        foreach (var t in publicCore) needed.UnionWith(PublicSurface(t));
        var unused = publicCore.Where(t => t.DeclaringType is null && !needed.Contains(t) && !PublicForConstants.Contains(t.Name))
            .Select(t => t.FullName).Order().ToList();
        Assert.True(unused.Count == 0, "Public in Engine.Core but used by no other project (make them internal): " + string.Join(", ", unused));
    }

    private static IEnumerable<Type> PublicSurface(Type type)
    {
        const BindingFlags PublicMembers = BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var found = new List<Type>();
        void Add(Type? t)
        {
            if (t is null || t.IsGenericParameter) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            found.Add(t.IsGenericType ? t.GetGenericTypeDefinition() : t);
            if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) Add(a);
        }
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        foreach (var f in type.GetFields(PublicMembers)) Add(f.FieldType);
        foreach (var p in type.GetProperties(PublicMembers)) Add(p.PropertyType);
        foreach (var m in type.GetMethods(PublicMembers).Cast<MethodBase>().Concat(type.GetConstructors(PublicMembers)))
        {
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
        }
        foreach (var n in type.GetNestedTypes(BindingFlags.Public)) found.AddRange(PublicSurface(n));
        return found;
    }

    /// <summary>The types <paramref name="type"/> refers to: its declaration and every member's signature and body.</summary>
    private static IEnumerable<Type> Uses(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null || t.IsGenericParameter) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            if (!found.Add(t)) return;
            if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) Add(a);
        }
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        foreach (var f in type.GetFields(IlReferences.AllDeclared)) Add(f.FieldType);
        foreach (var p in type.GetProperties(IlReferences.AllDeclared)) Add(p.PropertyType);
        var methods = type.GetMethods(IlReferences.AllDeclared).Cast<MethodBase>().Concat(type.GetConstructors(IlReferences.AllDeclared));
        foreach (var m in methods)
        {
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
            foreach (var member in IlReferences.Of(m))
                Add(member as Type ?? member.DeclaringType);
        }
        return found;
    }
}
