using System.Globalization;

namespace NeuronEngine.IO;

/// <summary>OpenAI's per-neuron layout, shared by records, explanations and simulation results: DIR/{layer}/{neuron}{extension}.</summary>
public static class NeuronFileLayout
{
    public static string PathFor(string directory, int layer, int neuron, string extension) =>
        Path.Combine(directory, layer.ToString(CultureInfo.InvariantCulture), neuron.ToString(CultureInfo.InvariantCulture) + extension);
}
