namespace NeuronEngine.IO;

/// <summary>Progress of a long run: units done (windows, files, neurons) out of the total, counting what a resume skipped.</summary>
public readonly record struct RunProgress(long Done, long Total);

/// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and lag behind).</summary>
public sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
