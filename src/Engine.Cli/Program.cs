// engine: the neuron-explanation engine's command line (DESIGN §6).
return NeuronEngine.Cli.EngineCli.Run(args);
