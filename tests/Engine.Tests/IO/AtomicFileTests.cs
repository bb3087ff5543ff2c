using NeuronEngine.IO;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.IO;

/// <summary>
/// The crash-safety primitive of every manifest, results file and checkpoint: a reader sees the old content or the
/// whole new content, never a mix, and a failed write leaves the old file and no temporary behind.
/// </summary>
public class AtomicFileTests
{
    [Fact]
    public void WritesANewFileAndItsDirectories()
    {
        using var dir = new TempDir();
        string path = dir["a/b/c.json"];
        AtomicFile.WriteAllText(path, "{\"x\": 1}");
        Assert.Equal("{\"x\": 1}", File.ReadAllText(path));
        Assert.Equal(["c.json"], Directory.GetFiles(dir["a/b"]).Select(Path.GetFileName));
    }

    [Fact]
    public void ReplacesAnExistingFileWhole()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("m.json", new string('o', 10_000));
        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));   // not "new" followed by the old file's tail
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void AReaderHoldingTheOldFileKeepsReadingTheOldContent()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("m.json", "old content");
        using var reader = new StreamReader(path);
        AtomicFile.WriteAllText(path, "new content");
        Assert.Equal("old content", reader.ReadToEnd()); // the rename swapped the name; the open file is untouched
        Assert.Equal("new content", File.ReadAllText(path));
    }

    [Fact]
    public void AFailedWriteLeavesTheTargetAndNoTemporary()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["target"]);
        File.WriteAllText(dir["target/keep.txt"], "kept");
        // The target is a directory: the final rename fails after the temporary was written.
        Assert.ThrowsAny<IOException>(() => AtomicFile.WriteAllText(dir["target"], "lost"));
        Assert.Equal("kept", File.ReadAllText(dir["target/keep.txt"]));
        Assert.Equal(["target"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }
}

/// <summary>
/// The resume check's content identity: the length plus a SHA-256 of the first and last MiB. Tests pin what it
/// notices (length, head, tail) and what it deliberately does not (the middle of a file over 2 MiB).
/// </summary>
public class FingerprintTests
{
    private const int MiB = 1 << 20;

    [Fact]
    public void EqualContentGivesEqualFingerprintsAndTheFormatIsLengthColonSha256()
    {
        using var dir = new TempDir();
        var bytes = Bytes(3 * MiB + 17, seed: 1);
        File.WriteAllBytes(dir["a"], bytes);
        File.WriteAllBytes(dir["b"], bytes);
        string a = Fingerprint.OfFile(dir["a"]);
        Assert.Equal(a, Fingerprint.OfFile(dir["b"]));
        Assert.Matches($"^{bytes.Length}:[0-9a-f]{{64}}$", a);
    }

    [Theory]
    [InlineData(10, 3)]              // a small file is hashed whole
    [InlineData(3 * MiB + 17, 5)]    // the first MiB
    [InlineData(3 * MiB + 17, 3 * MiB + 10)] // the last MiB
    [InlineData(MiB + 100, MiB + 50)] // a file between 1 and 2 MiB: its tail overlaps nothing it skipped
    public void AChangedByteInTheHashedPartsChangesIt(int length, int position)
    {
        using var dir = new TempDir();
        var bytes = Bytes(length, seed: 2);
        File.WriteAllBytes(dir["a"], bytes);
        string before = Fingerprint.OfFile(dir["a"]);
        bytes[position] ^= 0x40;
        File.WriteAllBytes(dir["a"], bytes);
        Assert.NotEqual(before, Fingerprint.OfFile(dir["a"]));
    }

    [Fact]
    public void ALengthChangeChangesItAndTheMiddleOfALargeFileIsNotRead()
    {
        using var dir = new TempDir();
        var bytes = Bytes(4 * MiB, seed: 3);
        File.WriteAllBytes(dir["a"], bytes);
        string before = Fingerprint.OfFile(dir["a"]);
        File.WriteAllBytes(dir["a"], [.. bytes, 0]);
        Assert.NotEqual(before, Fingerprint.OfFile(dir["a"]));
        bytes[2 * MiB] ^= 0x40; // between the hashed head and tail: by design, not noticed (a multi-GB corpus is not hashed whole)
        File.WriteAllBytes(dir["a"], bytes);
        Assert.Equal(before, Fingerprint.OfFile(dir["a"]));
    }

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }
}
