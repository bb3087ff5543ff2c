using System.CommandLine;
using System.CommandLine.Parsing;
using System.Reflection;
using System.Text.RegularExpressions;
using NeuronEngine.Corpus;
using NeuronEngine.Explain;
using NeuronEngine.Format;
using NeuronEngine.IO;
using NeuronEngine.Model;

namespace NeuronEngine.Cli;

/// <summary>
/// Runs a command with the exit codes every command keeps (docs/cli.md): 0 done, 1 some items failed (listed in the
/// output), 2 bad input or configuration, 3 a budget stopped the run, 130 cancelled. Anything the user can fix is one
/// line on stderr, `error: …`, and exit code 2; a command-line mistake adds one hint line naming the command's help.
/// </summary>
public static partial class CommandRunner
{
    public const int Done = 0;
    public const int SomeItemsFailed = 1;
    public const int BadInput = 2;
    public const int BudgetReached = 3;
    public const int Cancelled = 130;
    /// <summary>Not part of the contract: an exception no check anticipated (a bug), reported in one line too.</summary>
    public const int InternalError = 70;

    /// <summary>Set to 1 to see the stack trace of an internal error.</summary>
    public const string DebugVariable = "ENGINE_DEBUG";

    public static int Invoke(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
        {
            Console.Error.WriteLine($"error: {ParseErrorLine(parsed)}");
            Console.Error.WriteLine($"see `{CommandPath(parsed.CommandResult.Command)} --help`");
            return BadInput;
        }
        // Ctrl+C cancels the token the commands watch (they stop at the next batch, file or call: exit code 130, and a
        // rerun resumes); a command that does not watch it is ended after a grace period, a second Ctrl+C at once.
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return;
            e.Cancel = true;
            cancel.Cancel();
            _ = Task.Delay(CancelGrace).ContinueWith(_ =>
            {
                Console.Error.WriteLine(CancelledLine);
                Environment.Exit(Cancelled);
            }, TaskScheduler.Default);
        };
        Console.CancelKeyPress += onCancel;
        var outputs = new List<OutputDirectory>();
        try
        {
            // Every output directory of the command is created, checked and locked before its action runs (docs/cli.md).
            foreach (var option in parsed.CommandResult.Command.Options.Where(Commands.CommonOptions.IsOutput))
                if (parsed.GetResult(option) is { Implicit: false } && parsed.GetValue<string?>(option.Name) is { } path
                    && !outputs.Any(o => Path.GetFullPath(o.Path) == Path.GetFullPath(path)))
                    outputs.Add(OutputDirectory.Acquire(path, option.Name));
            return parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancel.Token).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            return Report(e);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            foreach (var o in Enumerable.Reverse(outputs)) o.Dispose();
        }
    }

    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(5);
    private const string CancelledLine = "cancelled; rerun the same command to resume";

    /// <summary>Reports an exception that ended a command in one line on stderr and returns the exit code.</summary>
    public static int Report(Exception exception)
    {
        var e = Unwrap(exception);
        if (e is OperationCanceledException)
        {
            Console.Error.WriteLine(CancelledLine);
            return Cancelled;
        }
        if (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {UserMessage(e)}");
            return BadInput;
        }
        Console.Error.WriteLine($"error: internal error ({e.GetType().Name}): {OneLine(e.Message)} — a bug; please report it (set {DebugVariable}=1 for the stack trace)");
        if (Environment.GetEnvironmentVariable(DebugVariable) is { Length: > 0 } and not "0") Console.Error.WriteLine(exception);
        return InternalError;
    }

    /// <summary>The exception that says what happened: the first inner one of aggregates (Parallel.For) and wrappers.</summary>
    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: > 0 } a:
                    e = a.Flatten().InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException) ?? a.InnerExceptions[0];
                    continue;
                case TargetInvocationException { InnerException: { } inner }:
                    e = inner;
                    continue;
                case TypeInitializationException { InnerException: { } inner }:
                    e = inner;
                    continue;
                // The shard writer's background thread: the IOException it wraps is what the user needs to see.
                case IOException { InnerException: IOException inner } when e.GetType() == typeof(IOException) && e.Message.StartsWith("background write failed", StringComparison.Ordinal):
                    e = inner;
                    continue;
                default:
                    return e;
            }
        }
    }

    private static bool IsUserError(Exception e) => e is ModelException or SafeTensorsFormatException or CorpusException
        or ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException or NotSupportedException
        or LlmEndpointException or System.Text.Json.JsonException;

    private static string UserMessage(Exception e)
    {
        if (e is DiskFullException or OutputLocationException) return OneLine(e.Message);
        if (e is IOException io && DiskSpace.IsDiskFull(io))
            return $"{PathIn(io.Message) ?? "the output"}: no space left on the device; free some space (or use another location) and rerun the same command to continue";
        // .NET's own wording ("Could not find a part of the path '/x/y'.") → "/x/y: reason".
        if (e is UnauthorizedAccessException or IOException && PathIn(e.Message) is { } path && !e.Message.StartsWith(path, StringComparison.Ordinal))
            return $"{path}: {(e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" : OutputDirectory.Reason(e))}";
        return OneLine(e.Message);
    }

    /// <summary>The quoted path in a .NET I/O message ("… '/x/y'."), or null.</summary>
    private static string? PathIn(string message) => QuotedPath().Match(message) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex(@"'(/[^']*|[A-Za-z]:\\[^']*)'")]
    private static partial Regex QuotedPath();

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Replace("  ", " ").Trim();

    /// <summary>`engine dump` for the dump command; `engine` for the root.</summary>
    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = c.Parents.FirstOrDefault()) names.Add(c is RootCommand ? "engine" : c.Name);
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>The first parse error as one line in our words (System.CommandLine's are several lines or name C# types).</summary>
    private static string ParseErrorLine(ParseResult parsed)
    {
        var command = parsed.CommandResult.Command;
        var errors = parsed.Errors;
        // "engine foo": System.CommandLine reports the missing command before the unknown word; the word says more.
        var error = errors.FirstOrDefault(x => x.Message.StartsWith("Unrecognized command or argument", StringComparison.Ordinal)) ?? errors[0];
        string m = error.Message;
        string subcommands = string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));

        if (UnrecognizedToken().Match(m) is { Success: true } u)
        {
            string token = u.Groups[1].Value;
            if (token.StartsWith('-')) return $"unknown option '{token}' for `{CommandPath(command)}`";
            return command.Subcommands.Count > 0 && command is RootCommand
                ? $"unknown command '{token}' (commands: {subcommands})"
                : $"unexpected argument '{token}' for `{CommandPath(command)}` (options take the form --name value)";
        }
        if (m.StartsWith("Required command was not provided", StringComparison.Ordinal))
            return $"no command given (commands: {subcommands})";
        if (error.SymbolResult is OptionResult o)
        {
            string name = o.Option.Name;
            if (m.StartsWith($"Option '{name}' is required", StringComparison.Ordinal)) return $"{name} is required";
            if (m.StartsWith("Required argument missing", StringComparison.Ordinal)) return $"{name} needs a value";
            if (m.Contains("expects a single argument", StringComparison.Ordinal)) return $"{name} is given more than once";
            if (m.StartsWith("Cannot parse argument", StringComparison.Ordinal))
            {
                string value = CannotParse().Match(m) is { Success: true } c ? c.Groups[1].Value : string.Join(' ', o.Tokens.Select(t => t.Value));
                return $"{name}: '{value}' is not {Expected(o.Option.ValueType)}";
            }
        }
        return OneLine(m);
    }

    private static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int) || type == typeof(long)) return "a whole number";
        if (type == typeof(ulong) || type == typeof(uint)) return "a whole number ≥ 0";
        if (type == typeof(double) || type == typeof(decimal) || type == typeof(float)) return "a number";
        if (type == typeof(bool)) return "true or false";
        if (type.IsEnum) return $"one of {string.Join(", ", Enum.GetNames(type).Select(n => n.ToLowerInvariant()))}";
        return $"a valid {type.Name}";
    }

    [GeneratedRegex("^Unrecognized command or argument '(.*)'")]
    private static partial Regex UnrecognizedToken();

    [GeneratedRegex("^Cannot parse argument '(.*)' for")]
    private static partial Regex CannotParse();
}
