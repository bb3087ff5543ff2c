using System.CommandLine;
using NeuronEngine.Cli.Commands;

namespace NeuronEngine.Cli;

/// <summary>The `engine` command tree; callable in-process by tests.</summary>
public static class EngineCli
{
    public static RootCommand Build() => new("engine — find what makes GPT-2's MLP neurons fire, explain and score them")
    {
        InfoCommand.Create(),
        DumpCommand.Create(),
        BenchCommand.Create(),
        ScoreCommand.Create(),
        RecordsCommand.Create(),
        MergeCommand.Create(),
        PtxCommand.Create(),
        RelatedCommand.Create(),
        PrecisionEffectCommand.Create(),
        ExplainCommands.Explain(),
        ExplainCommands.Simulate(),
        ExplainCommands.Run(),
        ViewCommand.Create(),
    };

    public static int Run(params string[] args) => CommandRunner.Invoke(Build(), args);
}
