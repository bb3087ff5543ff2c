using System.CommandLine;
using NeuronEngine.Cli;
using NeuronEngine.Cli.Commands;

// engine: the neuron-explanation engine's command line (DESIGN §6).
var root = new RootCommand("engine — find what makes GPT-2's MLP neurons fire, explain and score them")
{
    InfoCommand.Create(),
    DumpCommand.Create(),
};
return CommandRunner.Invoke(root, args);
