namespace NeuronEngine.Forward;

/// <summary>
/// Several sinks of one forward pass (a corpus pass's dump shards, record collector, …): each layer's neurons go to each
/// of them, in order. Devices that hand over device views deliver to the members one by one (a device sink gets the
/// view, the host sinks share one host copy); on the host it simply calls each.
/// </summary>
public sealed class FanOutSink(IReadOnlyList<IMlpActivationSink> sinks) : IMlpActivationSink
{
    public IReadOnlyList<IMlpActivationSink> Sinks => sinks;

    /// <summary>The one sink itself, or a fan-out over several.</summary>
    public static IMlpActivationSink Of(IReadOnlyList<IMlpActivationSink> sinks) =>
        sinks.Count == 1 ? sinks[0] : new FanOutSink(sinks);

    public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
    {
        foreach (var sink in sinks) sink.OnMlpActivations(layer, firstWindow, windows, seqLen, activations);
    }
}
