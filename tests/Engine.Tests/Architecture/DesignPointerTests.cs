using System.Text.RegularExpressions;

namespace NeuronEngine.Tests.Architecture;

/// <summary>
/// The repository explains itself: code and docs point to docs/design.md ("docs/design.md §N"), every section they
/// name exists there, and nothing points outside the repository to the team's notes (a clone does not have them).
/// Read from the source tree the test assembly was built from.
/// </summary>
public partial class DesignPointerTests
{
    private static readonly string[] Scanned = ["src", "kernels", "tests", "benchmarks", "scripts", "docs", "weights", "README.md"];
    private static readonly string[] Extensions = [".cs", ".md", ".sh", ".py", ".js", ".html", ".css", ".csproj", ".props", ".sbatch"];

    [Fact]
    public void EveryDesignPointerNamesASectionOfDocsDesign()
    {
        string root = RepositoryRoot();
        var sections = Sections(File.ReadAllText(Path.Combine(root, "docs", "design.md")));
        var pointers = SourceFiles(root).SelectMany(f => Pointers(File.ReadAllText(f)).Select(n => (File: Path.GetRelativePath(root, f), Section: n))).ToList();
        Assert.True(pointers.Count >= 20, $"only {pointers.Count} pointers into docs/design.md found: is the scan reading the tree?");
        Assert.Empty(pointers.Where(p => !sections.Contains(p.Section)).Select(p => $"{p.File}: §{p.Section}"));
    }

    [Fact]
    public void NothingPointsOutsideTheRepository()
    {
        string root = RepositoryRoot();
        var offenders = SourceFiles(root)
            .Where(f => !f.EndsWith(nameof(DesignPointerTests) + ".cs", StringComparison.Ordinal))
            .SelectMany(f => OutsidePointers(File.ReadAllText(f)).Select(hit => $"{Path.GetRelativePath(root, f)}: {hit}"))
            .ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void TheScannersFindPlantedPointers() // the positive control: the patterns above would catch these
    {
        Assert.Equal([4, 5, 6, 6], Pointers("(docs/design.md §4, §5–6) and [design](design.md) §6"));
        Assert.Equal(["DESIGN §", "../shared/", "/work/shared"], OutsidePointers("see DESIGN §4, ../shared/DESIGN.md and /work/shared/x"));
        Assert.Equal([1, 2], Sections("## 1. Data flow\ntext\n## 2. Weights\n### 2.1 not a section"));
    }

    /// <summary>The section numbers a text points to: "docs/design.md §4", "design.md) §5–6" (a range names both ends), ", §6" after one.</summary>
    private static int[] Pointers(string text) =>
        PointerPattern().Matches(text)
            .SelectMany(m => m.Groups["n"].Captures.Select(c => int.Parse(c.Value)))
            .ToArray();

    private static string[] OutsidePointers(string text) =>
        OutsidePattern().Matches(text).Select(m => m.Value).ToArray();

    private static HashSet<int> Sections(string design) =>
        SectionPattern().Matches(design).Select(m => int.Parse(m.Groups[1].Value)).ToHashSet();

    [GeneratedRegex(@"design\.md\)? §(?<n>\d+)(?:[–-](?<n>\d+))?(?:, §(?<n>\d+)(?:[–-](?<n>\d+))?)*")]
    private static partial Regex PointerPattern();

    [GeneratedRegex(@"DESIGN(?:\.md)? §|\.\./shared/|/work/shared")]
    private static partial Regex OutsidePattern();

    [GeneratedRegex(@"^## (\d+)\. ", RegexOptions.Multiline)]
    private static partial Regex SectionPattern();

    private static IEnumerable<string> SourceFiles(string root) =>
        Scanned.Select(p => Path.Combine(root, p)).SelectMany(p =>
            File.Exists(p) ? [p]
            : Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f)))
                .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or "node_modules"))
            : []);

    /// <summary>The source tree this assembly was built from: the first folder above it holding Engine.sln.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        Assert.Skip($"no Engine.sln above {AppContext.BaseDirectory}: the test assembly runs outside its source tree (the GPU bundle)");
        return "";
    }
}
