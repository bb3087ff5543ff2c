using NeuronEngine.Cpu;
using NeuronEngine.Model;

namespace NeuronEngine.Runtime;

/// <summary>`--device` names and what stands behind them on this machine.</summary>
public static class DeviceCatalog
{
    public static readonly string[] Names = ["auto", "cuda", "opencl", "ilgpu-cpu", "cpu"];

    public static IForwardDevice Create(string name, Gpt2Weights weights) => name switch
    {
        "auto" or "cpu" => new CpuDevice(weights),
        "cuda" or "opencl" or "ilgpu-cpu" => throw new NotSupportedException(
            $"--device {name}: the ILGPU devices are not in this build yet; use --device cpu"),
        _ => throw new ArgumentException($"--device: unknown device '{name}' (expected {string.Join("|", Names)})"),
    };

    public static IEnumerable<string> Describe()
    {
        yield return $"cpu        managed forward pass, {Environment.ProcessorCount} threads";
    }
}
