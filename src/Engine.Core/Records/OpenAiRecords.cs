using NeuronEngine.Scoring;
using NeuronEngine.Text;
using NeuronEngine.Numerics;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Records;

/// <summary>
/// Turns a layer's collected state into OpenAI's NeuronRecord objects (docs/design.md §4): token strings as the tokenizer
/// displays them, activations widened to double, quantile_boundaries = the four interior band boundaries, empty
/// slots left out, statistics NaN (→ null) where undefined.
/// </summary>
internal static class OpenAiRecords
{
    public static NeuronRecord ToNeuronRecord(LayerRecordState s, int neuron, IReadOnlyDictionary<long, int[]> tokens, Gpt2Tokenizer tokenizer)
    {
        ActivationRecord[] Records(Reservoir r, int group) => r.Sorted(group).Select(slot =>
        {
            long window = RecordKeys.Window(r.Keys[group * r.Capacity + slot]);
            var ids = tokens.TryGetValue(window, out var t) ? t
                : throw new InvalidDataException($"window {window} of layer {s.Layer} neuron {neuron} is missing from the token table");
            return new ActivationRecord
            {
                Tokens = ids.Select(tokenizer.DisplayToken).ToArray(),
                Activations = r.SlotActivations(group, slot).ToArray().Select(v => (double)v).ToArray(),
            };
        }).ToArray();

        var (mean, variance, skewness, kurtosis) = Moments.Statistics(s.Moments.AsSpan(neuron * Moments.Stride, Moments.Stride));
        return new NeuronRecord
        {
            NeuronId = new NeuronId { LayerIndex = s.Layer, NeuronIndex = neuron },
            RandomSample = Records(s.Random, neuron),
            RandomSampleByQuantile = Enumerable.Range(0, RecordShape.Bands).Select(b => Records(s.Quantile, neuron * RecordShape.Bands + b)).ToArray(),
            QuantileBoundaries = s.Boundaries.AsSpan(neuron * RecordShape.Boundaries, RecordShape.Boundaries).ToArray().Select(v => (double)v).ToArray(),
            Mean = mean,
            Variance = variance,
            Skewness = skewness,
            Kurtosis = kurtosis,
            MostPositiveActivationRecords = Records(s.Top, neuron),
        };
    }

    /// <summary>Every window the state's records refer to.</summary>
    public static IEnumerable<long> Windows(LayerRecordState s) =>
        new[] { s.Top, s.Random, s.Quantile }.SelectMany(r => r.Keys.Where(k => k != RecordKeys.Empty).Select(k => (long)RecordKeys.Window(k)));
}
