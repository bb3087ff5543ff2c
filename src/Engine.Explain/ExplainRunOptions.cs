namespace NeuronEngine.Explain;

/// <summary>
/// What the explain and simulate stages ask of the models. The initial values are the defaults of the LLM commands'
/// options (`engine explain|simulate|run --help` shows them from <see cref="Defaults"/>): one place for each.
/// </summary>
public sealed record ExplainRunOptions
{
    /// <summary>Every default (the models have none: they must be given).</summary>
    public static readonly ExplainRunOptions Defaults = new() { ExplainerModel = "", SimulatorModel = "" };

    public required string ExplainerModel { get; init; }
    public required string SimulatorModel { get; init; }
    public SimulatorMode SimulatorMode { get; init; } = SimulatorMode.Logprobs;

    /// <summary>
    /// Records per split (OpenAI's n_examples_per_split): the explainer sees this many top records (train), this many
    /// top and this many random are scored (valid) and, with <see cref="Calibrate"/>, simulated for calibration.
    /// </summary>
    public int ExamplesPerSplit { get; init; } = 5;

    /// <summary>Also simulate the calibration split, for the calibrated scores (OpenAI's LinearCalibratedNeuronSimulator); off halves the calls.</summary>
    public bool Calibrate { get; init; } = true;

    /// <summary>Candidate explanations per neuron (`--samples`); each is simulated and scored, the best listed first.</summary>
    public int Samples { get; init; } = 1;

    /// <summary>The explainer model's context window in tokens; prompts shrink to fit it with room for the reply.</summary>
    public int ContextTokens { get; init; } = 8192;

    public int ExplainerMaxOutputTokens { get; init; } = 80;
    public double ExplainerTemperature { get; init; } = 1.0;
    public double SimulatorTemperature { get; init; }

    /// <summary>
    /// max_tokens of an echo-mode request: 0 as OpenAI's simulator; 1 for servers that refuse 0 (the one generated
    /// token lands after the echoed prompt's "&lt;end&gt;", where the parser no longer looks).
    /// </summary>
    public int EchoMaxTokens { get; init; }

    /// <summary>Alternatives per token in logprobs and echo modes (OpenAI's simulator asks for 15; its chat API allows at most 20).</summary>
    public int TopLogprobs { get; init; } = 15;

    /// <summary>Neurons worked on at once (their calls share the gateway's concurrency limit; `--concurrency` sets both).</summary>
    public int NeuronConcurrency { get; init; } = LlmResilienceOptions.Defaults.Concurrency;

    /// <summary>Revision steps per neuron after its first explanation (`--revise`; 0: none, today's behaviour). Needs the subject model.</summary>
    public int Revise { get; init; }

    /// <summary>Test texts the explainer writes per explanation when revising (`--probe-texts`): half should fire, half should not.</summary>
    public int ProbeTexts { get; init; } = 10;

    public IReadOnlyList<FewShotExample> FewShotExamples { get; init; } = Explain.FewShotExamples.All;
}

/// <summary>
/// A neuron (or one of its sequences) that could not be done, and why; the run goes on without it.
/// <see cref="Stage"/> is "explain", "simulate", or "sequence" for one sequence that failed to simulate.
/// </summary>
public sealed record NeuronFailure(int Layer, int Neuron, string Stage, string Reason);

/// <summary>What a stage did.</summary>
/// <param name="Selected">Neurons the stage was asked to do.</param>
/// <param name="Completed">Neurons finished in this run.</param>
/// <param name="AlreadyDone">Neurons whose result was on disk already (resume).</param>
/// <param name="StoppedBy">Why the stage stopped early (a spent budget), or null.</param>
public sealed record StageSummary(int Selected, int Completed, int AlreadyDone, IReadOnlyList<NeuronFailure> Failures, string? StoppedBy);

/// <summary>A neuron's work cannot be done (bad input, nothing usable from the model).</summary>
public sealed class NeuronFailedException(string reason) : Exception(reason);
