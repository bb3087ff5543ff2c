using NeuronEngine.Model;
using NeuronEngine.Runtime;
using NeuronEngine.Forward;

namespace NeuronEngine.Benchmarks;

/// <summary>
/// The common setup of the forward-pass benchmarks: synthetic gpt2 weights (cached), a device, and a batch of
/// random 64-token windows over all 12 layers (4 windows on `cpu`, 256 on a GPU).
/// </summary>
public sealed record SyntheticForwardSetup(Gpt2Weights Weights, IForwardDevice Device, int[] Tokens, int[] Layers, int Batch)
{
    public const int SeqLen = 64;

    public static SyntheticForwardSetup Open(string device)
    {
        var weights = Gpt2Weights.Open(SyntheticModelCache.GetOrCreate("gpt2"));
        var dev = DeviceCatalog.Create(device, weights);
        int batch = device == "cpu" ? 4 : 256;
        var rng = new Random(0);
        var tokens = Enumerable.Range(0, batch * SeqLen).Select(_ => rng.Next(weights.Config.VocabSize)).ToArray();
        return new SyntheticForwardSetup(weights, dev, tokens, Enumerable.Range(0, weights.Config.NLayer).ToArray(), batch);
    }
}
