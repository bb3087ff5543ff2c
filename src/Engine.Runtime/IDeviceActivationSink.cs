using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Forward;

namespace NeuronEngine.Runtime;

/// <summary>
/// A sink that consumes the neurons where they are, on the device (records, scores), so only its reduced
/// output ever crosses to the host. ILGPU devices call this instead of copying; the `cpu` device calls
/// <see cref="IMlpActivationSink.OnMlpActivations"/>.
/// </summary>
public interface IDeviceActivationSink : IMlpActivationSink
{
    void OnDeviceActivations(Accelerator accelerator, int layer, long firstWindow, int windows, int seqLen, ArrayView<float> activations);
}
