using System.CommandLine;
using NeuronEngine.Cli.Commands;
using NeuronEngine.Pass;

namespace NeuronEngine.Cli;

/// <summary>The `engine` command tree; callable in-process by tests.</summary>
public static class EngineCli
{
    /// <param name="hooks">observers of the corpus passes (the crash tests'); none in production</param>
    public static RootCommand Build(IPassHooks? hooks = null)
    {
        hooks ??= NoPassHooks.Instance;
        return new("engine — find what makes GPT-2's MLP neurons fire, explain and score them")
        {
            InfoCommand.Create(),
            DumpCommand.Create(hooks),
            ProbeCommand.Create(),
            BenchCommand.Create(),
            EvalCommand.Create(),
            AblateCommand.Create(),
            ScoreCommand.Create(),
            RecordsCommand.Create(hooks),
            MergeCommand.Create(),
            PtxCommand.Create(),
            RelatedCommand.Create(),
            ConnectionsCommand.Create(),
            PrecisionEffectCommand.Create(),
            ExplainCommands.Explain(),
            ExplainCommands.Simulate(),
            ExplainCommands.Run(),
            ViewCommand.Create(),
        };
    }

    public static int Run(params string[] args) => Run(NoPassHooks.Instance, args);

    public static int Run(IPassHooks hooks, string[] args) => CommandRunner.Invoke(Build(hooks), args);
}
