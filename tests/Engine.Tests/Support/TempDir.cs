namespace NeuronEngine.Tests.Support;

/// <summary>A fresh directory under the system temp folder, deleted with everything in it on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("engine-test-").FullName;

    /// <summary>The path of <paramref name="relative"/> inside this directory.</summary>
    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    /// <summary>Writes <paramref name="contents"/> (UTF-8) to <paramref name="name"/> and returns its path.</summary>
    public string WriteText(string name, string contents)
    {
        File.WriteAllText(this[name], contents);
        return this[name];
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
