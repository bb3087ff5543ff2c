namespace NeuronEngine.Format;

/// <summary>A safetensors file that breaks the format; the message names the file and, where known, the tensor.</summary>
public sealed class SafeTensorsFormatException(string file, string problem, string? tensor = null)
    : Exception(tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}")
{
    public string File { get; } = file;
    public string? Tensor { get; } = tensor;
}
