namespace NeuronEngine.Forward;

/// <summary>
/// Receives the post-GELU MLP activations ("neurons") of one layer for one batch of windows, in window order.
/// Layout: [windows, seqLen, 4·d] row-major. The span is only valid during the call.
/// </summary>
public interface IMlpActivationSink
{
    void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations);
}
