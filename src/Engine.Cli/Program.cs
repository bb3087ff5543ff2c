// engine: the neuron-explanation engine's command line (docs/design.md §6). The composition root: the one place that reads the
// crash tests' hooks from the environment (EnvironmentHooks) and hands them to the commands.
return NeuronEngine.Cli.EngineCli.Run(NeuronEngine.Cli.EnvironmentHooks.FromEnvironment(), args);
