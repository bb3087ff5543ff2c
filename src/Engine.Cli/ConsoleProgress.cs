using NeuronEngine.Dump;
using Spectre.Console;

namespace NeuronEngine.Cli;

/// <summary>
/// A progress bar on stderr when it is a terminal (so stdout stays clean for --json and pipes); otherwise
/// nothing, as logs of batch jobs should not fill with redraws.
/// </summary>
public static class ConsoleProgress
{
    public static T Run<T>(string description, Func<IProgress<RunProgress>, T> work)
    {
        if (Console.IsErrorRedirected || Environment.GetEnvironmentVariable("CI") is { Length: > 0 })
            return work(new Progress<RunProgress>(_ => { }));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(description);
                return work(new SyncProgress(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                }));
            });
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and lag behind).</summary>
    private sealed class SyncProgress(Action<RunProgress> report) : IProgress<RunProgress>
    {
        public void Report(RunProgress value) => report(value);
    }
}
