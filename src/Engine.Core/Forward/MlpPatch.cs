namespace NeuronEngine.Forward;

/// <summary>
/// Overwrites one neuron's post-GELU activations in one batch element, at layer <see cref="Layer"/>, before c_proj:
/// h[t, Neuron] = Values[t] at every position t whose value is a number (NaN leaves that position as computed).
/// The one mechanism of ablation (a constant: the neuron's mean, or 0) and of the ablation score (a per-position vector:
/// the simulated activations). The sink of that layer, if any, sees the activations before the patch.
/// </summary>
public sealed record MlpPatch(int Layer, int Neuron, float[] Values)
{
    /// <summary>The same value at every position, or at the listed positions only.</summary>
    public static MlpPatch Constant(int layer, int neuron, float value, int seqLen, IEnumerable<int>? positions = null)
    {
        var values = new float[seqLen];
        if (positions is null) Array.Fill(values, value);
        else
        {
            Array.Fill(values, float.NaN);
            foreach (int t in positions)
            {
                if ((uint)t >= (uint)seqLen) throw new ArgumentOutOfRangeException(nameof(positions), $"position {t} is outside a window of {seqLen}");
                values[t] = value;
            }
        }
        return new MlpPatch(layer, neuron, values);
    }

    /// <summary>
    /// Applies the patches of <paramref name="layer"/> to h [elements, seqLen, width] (the CPU reference of
    /// ElementwiseKernels.PatchNeurons): h[(e·T + t)·width + n_e] = v_e[t] where element e has a patch at this layer
    /// and v_e[t] is not NaN.
    /// </summary>
    public static void Apply(IReadOnlyList<MlpPatch?> patches, int layer, Span<float> h, int seqLen, int width)
    {
        for (int e = 0; e < patches.Count; e++)
        {
            if (patches[e] is not { } p || p.Layer != layer) continue;
            for (int t = 0; t < seqLen; t++)
            {
                float v = p.Values[t];
                if (!float.IsNaN(v)) h[(e * seqLen + t) * width + p.Neuron] = v;
            }
        }
    }

    /// <summary>Checks patches against the batch: one entry per element, neurons and layers of the model, one value per position.</summary>
    public static void Validate(IReadOnlyList<MlpPatch?> patches, int elements, int seqLen, int width, int lastLayer)
    {
        if (patches.Count != elements) throw new ArgumentException($"{patches.Count} patches for a batch of {elements} elements (one each, null for none)");
        foreach (var p in patches)
        {
            if (p is null) continue;
            if ((uint)p.Neuron >= (uint)width) throw new ArgumentException($"patch: neuron {p.Neuron} does not exist (a layer has {width})");
            if (p.Layer < 0 || p.Layer > lastLayer) throw new ArgumentException($"patch: layer {p.Layer} is not computed (last layer {lastLayer})");
            if (p.Values.Length != seqLen) throw new ArgumentException($"patch: {p.Values.Length} values for windows of {seqLen}");
        }
    }
}
