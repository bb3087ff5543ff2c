using NeuronEngine.Ablation;
using NeuronEngine.OpenAi;

namespace NeuronEngine.View;

/// <summary>`engine ablate` output (docs/ablation.md): each neuron's {layer}/{neuron}.json summary, when the directory has one.</summary>
public sealed class AblationSource
{
    private readonly string _dir;

    public AblationSource(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--ablation {dir}: no such directory");
        if (AblationManifest.TryLoad(dir) is null) throw new InvalidDataException($"--ablation {dir}: no {AblationManifest.FileName}: not an `engine ablate` directory");
        _dir = dir;
    }

    public NeuronAblationSummary? Read(int layer, int neuron) => AblationFiles.SummaryJson.TryRead(AblationFiles.OpenAiPath(_dir, layer, neuron));
}
