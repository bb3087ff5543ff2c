namespace NeuronEngine.Forward;

/// <summary>A sink that discards everything: the forward pass alone, for benchmarks.</summary>
public sealed class NullActivationSink : IMlpActivationSink
{
    public static readonly NullActivationSink Instance = new();
    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations) { }
}
