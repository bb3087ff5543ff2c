using System.CommandLine;
using NeuronEngine.Corpus;
using NeuronEngine.Format;
using NeuronEngine.Model;

namespace NeuronEngine.Cli;

/// <summary>Runs a command and turns bad input into one clear line on stderr and a non-zero exit code.</summary>
public static class CommandRunner
{
    public const int BadInput = 2;

    public static int Invoke(RootCommand root, string[] args)
    {
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(args).Invoke(config);
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled; rerun the same command to resume");
            return 130;
        }
    }

    private static bool IsUserError(Exception e) => e is ModelException or SafeTensorsFormatException or CorpusException
        or ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
        or UnauthorizedAccessException or NotSupportedException;
}
