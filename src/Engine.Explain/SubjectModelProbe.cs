using NeuronEngine.Probe;
using NeuronEngine.Scoring;

namespace NeuronEngine.Explain;

/// <summary>
/// The subject model at hand while the explainer works: measures texts for one neuron through <see cref="ActivationProbe"/>
/// (the same forward pass as the records). The device runs one batch at a time, so neurons revised concurrently take turns.
/// </summary>
public sealed class SubjectModelProbe(ActivationProbe probe)
{
    private readonly SemaphoreSlim _turn = new(1, 1);

    /// <summary>Each text's tokens (as records show them) and the neuron's activation at each; texts past n_positions are cut.</summary>
    public async Task<ProbeTextActivations[]> MeasureAsync(int layer, int neuron, ProbeTextRequest texts, CancellationToken cancellationToken)
    {
        var all = texts.ShouldFire.Select(t => (Text: t, Fire: true)).Concat(texts.ShouldNotFire.Select(t => (Text: t, Fire: false))).ToArray();
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var prepared = all.Select(t => probe.Prepare(t.Text, "probe text")).ToArray();
            var values = probe.Measure([.. prepared.Select(p => p.TokenIds)], [new ProbeNeuron(layer, neuron)], cancellationToken);
            return [.. all.Select((t, i) => new ProbeTextActivations
            {
                Text = t.Text,
                ShouldFire = t.Fire,
                Tokens = probe.TokenStrings(prepared[i]),
                Activations = [.. values[i][0].Select(v => (double)v)],
            })];
        }
        finally
        {
            _turn.Release();
        }
    }
}
