using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Forward;

namespace NeuronEngine.Runtime;

/// <summary>
/// A sink that consumes the neurons where they are, on the device, so only what it reduces them to crosses to the host:
/// the record collector and its pilot (Runtime/Records) and the dump's staging copy (Runtime/Dump). ILGPU devices call
/// this instead of copying; the `cpu` device calls <see cref="IMlpActivationSink.OnMlpActivations"/>.
/// </summary>
public interface IDeviceActivationSink : IMlpActivationSink
{
    void OnDeviceActivations(Accelerator accelerator, int layer, long firstWindow, int windows, int seqLen, ArrayView<float> activations);
}
