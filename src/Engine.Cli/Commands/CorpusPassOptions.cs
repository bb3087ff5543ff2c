using System.CommandLine;
using NeuronEngine.Forward;
using NeuronEngine.Runtime;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// The options of a forward pass over a corpus (docs/design.md §6) — model, preset, model seed, corpus, layers, window length,
/// window cap, batch, device, precision — made (with their checks and defaults, <see cref="CommonOptions"/>) and read in
/// one place. dump, records, bench and precision-effect take them, each listing them in its own, stable help order;
/// a command adds the ones it uses (bench has no corpus, precision-effect compares precisions instead of taking one).
/// </summary>
internal sealed class CorpusPassOptions
{
    public readonly Option<string?> Model = CommonOptions.Model();
    public readonly Option<string?> Preset = CommonOptions.Preset();
    public readonly Option<int> ModelSeed = CommonOptions.ModelSeed();
    public readonly Option<string?> Corpus = CommonOptions.Corpus();
    public readonly Option<string> Layers = CommonOptions.Layers();
    public readonly Option<int> SeqLen = CommonOptions.SeqLen();
    public readonly Option<long?> MaxWindows = CommonOptions.MaxWindows();
    public readonly Option<int?> Batch = CommonOptions.Batch();
    public readonly Option<string> Device = CommonOptions.Device();
    public readonly Option<string> Precision = CommonOptions.Precision();

    /// <summary>The model, the corpus cut into windows and the requested layers, opened and checked (the caller disposes them).</summary>
    /// <param name="modelSeed">the seed when a deprecated alias gave it (dump's old --seed)</param>
    public RunInputs OpenInputs(ParseResult r, int? modelSeed = null) =>
        RunInputs.Open(r.GetValue(Model), r.GetValue(Preset), modelSeed ?? r.GetValue(ModelSeed), r.GetValue(Corpus),
            r.GetValue(Layers)!, r.GetValue(SeqLen), r.GetValue(MaxWindows), r.GetValue(Device)!);

    /// <summary>
    /// Resolves `--model`/`--preset` for a command that opens the weights itself (no corpus); a preset's weights are written
    /// only after the layers and the device have been checked against it.
    /// </summary>
    public (string Path, string Name) ResolveModel(ParseResult r) =>
        ModelSource.Resolve(r.GetValue(Model), r.GetValue(Preset), r.GetValue(ModelSeed), beforeWriting: shape =>
        {
            NeuronEngine.Model.LayerSelection.Parse(r.GetValue(Layers)!, shape.NLayer);
            DeviceSelection.RequireAvailable(r.GetValue(Device)!);
        });

    /// <summary>`--precision` as the engine's enum (checked at parse time).</summary>
    public MatMulPrecision GemmPrecision(ParseResult r) => CommonOptions.ParsePrecision(r.GetValue(Precision)!);

    /// <summary>The `--device` over the weights, in <paramref name="precision"/> (<see cref="DeviceSelection"/>).</summary>
    public IForwardDevice OpenDevice(ParseResult r, Model.Gpt2Weights weights, MatMulPrecision precision = MatMulPrecision.Fp32) =>
        DeviceCatalog.Create(r.GetValue(Device)!, weights, precision);

    /// <summary>`--batch`, or the device's own choice.</summary>
    public int BatchWindows(ParseResult r, IForwardDevice device) => r.GetValue(Batch) ?? device.DefaultBatchWindows;
}
