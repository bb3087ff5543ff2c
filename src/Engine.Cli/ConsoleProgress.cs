using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using NeuronEngine.IO;

namespace NeuronEngine.Cli;

/// <summary>
/// Progress on stderr (stdout stays clean for --json and pipes). On a terminal: a bar naming what is counted
/// ("dump 1,024/4,096 windows"). Otherwise (CI, nohup, Slurm logs): one line every <see cref="IntervalVariable"/>
/// seconds (10 by default; 0 turns them off), e.g. `dump: 1,024/4,096 windows (25.0%), 310 windows/s, ETA 0:00:09`,
/// never a redraw.
/// </summary>
public static class ConsoleProgress
{
    /// <summary>Seconds between progress lines when stderr is not a terminal.</summary>
    public const string IntervalVariable = "ENGINE_PROGRESS_SECONDS";

    /// <param name="stage">What runs ("dump").</param>
    /// <param name="unit">What is counted ("windows", "files", "neurons").</param>
    public static T Run<T>(string stage, string unit, Func<IProgress<RunProgress>, T> work)
    {
        if (Console.IsErrorRedirected || Environment.GetEnvironmentVariable("CI") is { Length: > 0 })
        {
            using var log = new LineProgress(stage, unit, Interval());
            return work(log);
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(stage));
                return work(new InlineProgress<RunProgress>(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                    task.Description = Markup.Escape($"{stage} {p.Done.ToString("N0", CultureInfo.InvariantCulture)}/{p.Total.ToString("N0", CultureInfo.InvariantCulture)} {unit}");
                }));
            });
    }

    private static TimeSpan Interval() =>
        double.TryParse(Environment.GetEnvironmentVariable(IntervalVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s >= 0
            ? TimeSpan.FromSeconds(s) : TimeSpan.FromSeconds(10);

    /// <summary>The latest state, printed as one line by a timer every interval (so a stalled run still shows it is alive).</summary>
    internal sealed class LineProgress : IProgress<RunProgress>, IDisposable
    {
        private readonly string _stage, _unit;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Timer? _timer;
        private readonly object _gate = new();
        private RunProgress? _first, _latest;
        private bool _disposed;

        public LineProgress(string stage, string unit, TimeSpan interval)
        {
            _stage = stage; _unit = unit;
            if (interval > TimeSpan.Zero) _timer = new Timer(_ => Print(), null, interval, interval);
        }

        public void Report(RunProgress value)
        {
            lock (_gate)
            {
                // Reports may come from several threads; keep the furthest.
                _first ??= value;
                if (_latest is not { } l || value.Done >= l.Done) _latest = value;
            }
        }

        internal string? Line()
        {
            RunProgress first, latest;
            lock (_gate)
            {
                if (_latest is not { } l || _first is not { } f) return null;
                (first, latest) = (f, l);
            }
            double seconds = _clock.Elapsed.TotalSeconds;
            double rate = seconds > 0 ? (latest.Done - first.Done) / seconds : 0;
            var inv = CultureInfo.InvariantCulture;
            string line = $"{_stage}: {latest.Done.ToString("N0", inv)}/{latest.Total.ToString("N0", inv)} {_unit}";
            if (latest.Total > 0) line += $" ({(100.0 * latest.Done / latest.Total).ToString("F1", inv)}%)";
            line += $", {rate.ToString(rate >= 100 ? "N0" : "N1", inv)} {_unit}/s";
            if (rate > 0 && latest.Total >= latest.Done)
            {
                var eta = TimeSpan.FromSeconds(Math.Min((latest.Total - latest.Done) / rate, 1e9));
                line += $", ETA {((long)eta.TotalHours).ToString(inv)}:{eta.Minutes:D2}:{eta.Seconds:D2}";
            }
            return line;
        }

        private void Print()
        {
            lock (_gate) // a tick that fires as the work ends prints nothing after the command's summary
            {
                if (!_disposed && Line() is { } line) Console.Error.WriteLine(line);
            }
        }

        public void Dispose()
        {
            lock (_gate) _disposed = true;
            _timer?.Dispose();
        }
    }
}
