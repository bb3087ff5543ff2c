namespace NeuronEngine.Forward;

/// <summary>
/// A device that runs GPT-2's forward pass over batches of windows and hands each requested layer's neurons
/// to a sink. Implementations: the managed `cpu` device, and ILGPU devices (cuda, opencl, ilgpu-cpu).
/// </summary>
public interface IForwardDevice : IDisposable
{
    /// <summary>The name the command line uses for it ("cpu", "cuda", …).</summary>
    string Name { get; }

    /// <summary>The precision of the forward pass's four GEMMs (everything else is float32).</summary>
    MatMulPrecision Precision { get; }

    /// <summary>A batch size (in windows) that keeps this device busy without exhausting its memory.</summary>
    int DefaultBatchWindows { get; }

    /// <summary>When set (one slot per layer), each Run adds every computed layer's wall time in ms; for `engine bench`.</summary>
    double[]? LayerMilliseconds { get; set; }

    /// <summary>Runs windows·seqLen token ids; calls the sink once per requested layer, in ascending layer order.</summary>
    void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, IReadOnlyCollection<int> layers, IMlpActivationSink sink, long firstWindow);

    /// <summary>
    /// Runs a batch for a <see cref="ForwardRequest"/>: the neurons of its layers and, if asked, the log-probabilities
    /// of every position. Devices without an LM head (test doubles) serve activation-only requests.
    /// </summary>
    void Run(ReadOnlySpan<int> tokens, int windows, int seqLen, ForwardRequest request)
    {
        if (request.LogProbs is not null) throw new NotSupportedException($"device {Name} computes no logits");
        Run(tokens, windows, seqLen, request.Layers, request.Sink, request.FirstWindow);
    }
}
