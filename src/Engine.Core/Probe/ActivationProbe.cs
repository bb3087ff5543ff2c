using NeuronEngine.Forward;
using NeuronEngine.IO;
using NeuronEngine.Model;
using NeuronEngine.Text;

namespace NeuronEngine.Probe;

/// <summary>A text made ready for the model: its token ids, cut to the model's n_positions when longer.</summary>
/// <param name="TokenCount">how many tokens the whole text has (more than TokenIds.Length when it was cut)</param>
public sealed record ProbeText(string Text, int[] TokenIds, int TokenCount)
{
    public bool WasCut => TokenCount > TokenIds.Length;
}

/// <summary>One text's activations for one neuron: a value per token, the largest and where it is (the first on ties).</summary>
public sealed record ProbeActivations(ProbeText Text, ProbeNeuron Neuron, float[] Activations)
{
    public float Max => Activations.Max();
    public int Argmax => Array.IndexOf(Activations, Max);
}

/// <summary>
/// The activations of arbitrary texts for chosen neurons (`engine probe`, and the revision loop in-process): the same
/// forward pass, device and precision as every command, over texts of any length up to n_positions.
///
/// Batching: the texts are sorted by length and packed into device batches of at most <see cref="BatchTokens"/> tokens,
/// padding included; each batch runs at the length of its longest text, the shorter ones padded at the end. Padding never
/// changes a value: attention is causal, so a token sees only the tokens before it, and every other op works row by
/// row — on the `cpu` device bit for bit (its GEMM's sum order per row does not depend on the batch), which the tests
/// check on every device. Sorting keeps the padding small: 10,000 short texts run as a few batches of similar lengths.
/// </summary>
public sealed class ActivationProbe
{
    private readonly IForwardDevice _device;
    private readonly Gpt2Config _config;
    private readonly Gpt2Tokenizer _tokenizer;

    /// <summary>The padding token: any id works (a padded position is never read); 0 is in every vocabulary.</summary>
    private const int PadToken = 0;

    /// <summary>The tokens of `engine bench`'s batch of <paramref name="windows"/> windows at its default 64-token length.</summary>
    public static int TokensOfWindows(int windows) => checked(windows * 64);

    public ActivationProbe(IForwardDevice device, Gpt2Config config, Gpt2Tokenizer? tokenizer = null)
    {
        _device = device; _config = config; _tokenizer = tokenizer ?? Gpt2Tokenizer.Load();
        BatchTokens = TokensOfWindows(device.DefaultBatchWindows);
    }

    /// <summary>Tokens per device batch, padding included (a text longer than this runs alone).</summary>
    public int BatchTokens { get; init; }

    /// <summary>The device batches of the last <see cref="Measure"/> (for the report).</summary>
    public int BatchesRun { get; private set; }

    /// <summary>The padded tokens of the last <see cref="Measure"/> (for the report).</summary>
    public long PaddingTokens { get; private set; }

    /// <summary>Tokenises <paramref name="text"/> and cuts it to n_positions; an empty text is an ArgumentException naming <paramref name="what"/>.</summary>
    public ProbeText Prepare(string text, string what = "text")
    {
        int[] ids = _tokenizer.Encode(text);
        if (ids.Length == 0) throw new ArgumentException($"{what}: empty text (no tokens)");
        int kept = Math.Min(ids.Length, _config.NPositions);
        return new ProbeText(text, kept == ids.Length ? ids : ids[..kept], ids.Length);
    }

    /// <summary>The token strings of a prepared text, as neuron records show them (each token decoded alone).</summary>
    public string[] TokenStrings(ProbeText text) => [.. text.TokenIds.Select(_tokenizer.DisplayToken)];

    /// <summary>Every text × every neuron, text-major, neurons in the order given.</summary>
    public IReadOnlyList<ProbeActivations> Probe(IReadOnlyList<ProbeText> texts, IReadOnlyList<ProbeNeuron> neurons, CancellationToken cancel = default,
        IProgress<RunProgress>? progress = null)
    {
        var values = Measure([.. texts.Select(t => t.TokenIds)], neurons, cancel, progress);
        var results = new List<ProbeActivations>(texts.Count * neurons.Count);
        for (int t = 0; t < texts.Count; t++)
            for (int n = 0; n < neurons.Count; n++)
                results.Add(new ProbeActivations(texts[t], neurons[n], values[t][n]));
        return results;
    }

    /// <summary>
    /// The activations of token sequences (each 1..n_positions long) for <paramref name="neurons"/>: [sequence][neuron][token].
    /// <paramref name="progress"/> hears the sequences done after each batch.
    /// </summary>
    public float[][][] Measure(IReadOnlyList<int[]> sequences, IReadOnlyList<ProbeNeuron> neurons, CancellationToken cancel = default,
        IProgress<RunProgress>? progress = null)
    {
        foreach (var n in neurons)
            if ((uint)n.Layer >= (uint)_config.NLayer || (uint)n.Neuron >= (uint)_config.DMlp)
                throw new ArgumentException($"neuron {n} is outside the model ({_config.NLayer} layers of {_config.DMlp} neurons)");
        var result = new float[sequences.Count][][];
        for (int s = 0; s < sequences.Count; s++)
        {
            int length = sequences[s].Length;
            if (length < 1 || length > _config.NPositions)
                throw new ArgumentException($"sequence {s} has {length} tokens; it must have 1 to n_positions ({_config.NPositions})");
            result[s] = new float[neurons.Count][];
            for (int n = 0; n < neurons.Count; n++) result[s][n] = new float[length];
        }
        int[] layers = [.. neurons.Select(n => n.Layer).Distinct().Order()];
        var byLayer = layers.ToDictionary(l => l, l => Enumerable.Range(0, neurons.Count).Where(i => neurons[i].Layer == l).ToArray());
        int[] order = [.. Enumerable.Range(0, sequences.Count).OrderBy(s => sequences[s].Length)];
        BatchesRun = 0; PaddingTokens = 0;
        var tokens = new List<int>();
        for (int start = 0; start < order.Length;)
        {
            cancel.ThrowIfCancellationRequested();
            // Ascending lengths: the batch runs at its last (longest) text's length; take texts while the padded batch fits.
            int count = 1;
            while (start + count < order.Length && (long)(count + 1) * sequences[order[start + count]].Length <= BatchTokens) count++;
            int seqLen = sequences[order[start + count - 1]].Length;
            tokens.Clear();
            for (int w = 0; w < count; w++)
            {
                var ids = sequences[order[start + w]];
                tokens.AddRange(ids);
                for (int p = ids.Length; p < seqLen; p++) tokens.Add(PadToken);
                PaddingTokens += seqLen - ids.Length;
            }
            var sink = new GatherSink(sequences, order.AsMemory(start, count), byLayer, neurons, result);
            _device.Run(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens), count, seqLen, layers, sink, firstWindow: 0);
            BatchesRun++;
            start += count;
            progress?.Report(new RunProgress(start, order.Length));
        }
        return result;
    }

    /// <summary>Copies the chosen neurons' values at each text's own tokens (never its padding) out of a batch's layer.</summary>
    private sealed class GatherSink(IReadOnlyList<int[]> sequences, ReadOnlyMemory<int> batch, Dictionary<int, int[]> byLayer,
        IReadOnlyList<ProbeNeuron> neurons, float[][][] result) : IMlpActivationSink
    {
        public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
        {
            if (!byLayer.TryGetValue(layer, out var wanted)) return;
            int width = activations.Length / (windows * seqLen);
            var texts = batch.Span;
            for (int w = 0; w < windows; w++)
            {
                int s = texts[w], length = sequences[s].Length;
                foreach (int n in wanted)
                {
                    var target = result[s][n];
                    int column = neurons[n].Neuron;
                    for (int t = 0; t < length; t++) target[t] = activations[((w * seqLen) + t) * width + column];
                }
            }
        }
    }
}
