using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NeuronEngine.Forward;
using NeuronEngine.IO;
using NeuronEngine.Model;
using NeuronEngine.Probe;
using NeuronEngine.Runtime;

namespace NeuronEngine.Cli.Commands;

/// <summary>
/// `engine probe`: the activations of arbitrary texts for chosen neurons (<see cref="ActivationProbe"/>), as JSON Lines
/// (one object per text × neuron) or a table of tokens coloured by activation.
/// </summary>
public static class ProbeCommand
{
    public static readonly string[] Formats = ["json", "table"];

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var preset = CommonOptions.Preset();
        var modelSeed = CommonOptions.ModelSeed();
        var neurons = new Option<string?>("--neurons") { Description = "neurons as layer:neuron, e.g. 5:131,5:2080" };
        var layers = new Option<string?>("--layers") { Description = "every neuron of these layers: indices and ranges such as 0,3,5-7, or all" };
        var text = new Option<string[]>("--text") { Description = "a text to probe (may be repeated)", Arity = ArgumentArity.OneOrMore };
        var texts = new Option<string?>("--texts") { Description = "texts to probe: .txt (one per line) or .jsonl (a \"text\" field per line)" };
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var batch = CommonOptions.AtLeast(new Option<int?>("--batch")
        {
            Description = "a device batch holds at most B×64 tokens, padding included (the tokens of bench's batch B); default: the device's choice",
        }, 1);
        var format = CommonOptions.OneOf(new Option<string>("--format") { Description = "json: JSON Lines; table: tokens coloured by activation (plain token(value) when not a terminal)", DefaultValueFactory = _ => "json" }, Formats);
        var outFile = new Option<string?>("--out") { Description = "write the output to this file (atomically) instead of stdout" };
        var cmd = new Command("probe", "the activations of given texts for chosen neurons")
        {
            model, preset, modelSeed, neurons, layers, text, texts, device, precision, batch, format, outFile,
        };
        cmd.SetAction((r, ct) => Task.FromResult(Execute(r, ct)));
        int Execute(ParseResult r, CancellationToken ct)
        {
            var given = r.GetValue(text) ?? [];
            string? file = r.GetValue(texts);
            if (given.Length == 0 && file is null) throw new ArgumentException("give --text \"…\" or --texts FILE (.txt or .jsonl)");
            if (given.Length > 0 && file is not null) throw new ArgumentException("give either --text or --texts, not both");
            string? outPath = r.GetValue(outFile);
            if (outPath is not null && (outPath.Length == 0 || Directory.Exists(outPath))) throw new ArgumentException($"--out {outPath}: not a file path");
            var rawTexts = file is not null ? ProbeTexts.Read(file) : given;
            string deviceName = r.GetValue(device)!;
            var (modelPath, _) = ModelSource.Resolve(r.GetValue(model), r.GetValue(preset), r.GetValue(modelSeed), beforeWriting: shape =>
            {
                ProbeNeuron.Select(r.GetValue(neurons), r.GetValue(layers), shape);
                DeviceSelection.RequireAvailable(deviceName);
            });
            using var weights = Gpt2Weights.Open(modelPath);
            var chosen = ProbeNeuron.Select(r.GetValue(neurons), r.GetValue(layers), weights.Config);
            var gemm = CommonOptions.ParsePrecision(r.GetValue(precision)!);
            using var dev = DeviceCatalog.Create(deviceName, weights, gemm);
            var probe = new ActivationProbe(dev, weights.Config)
            {
                BatchTokens = ActivationProbe.TokensOfWindows(r.GetValue(batch) ?? dev.DefaultBatchWindows),
            };
            var prepared = new List<ProbeText>(rawTexts.Count);
            for (int i = 0; i < rawTexts.Count; i++)
            {
                string what = file is not null ? $"{ProbeTexts.Option} {file} text {i + 1}" : $"--text {i + 1}";
                var p = probe.Prepare(rawTexts[i], what);
                if (p.WasCut)
                    Console.Error.WriteLine($"note: {what} has {p.TokenCount:N0} tokens; cut to the model's n_positions ({p.TokenIds.Length:N0})");
                prepared.Add(p);
            }
            var clock = Stopwatch.StartNew();
            var results = ConsoleProgress.Run("probe", "texts", progress => probe.Probe(prepared, chosen, ct, progress));
            double seconds = clock.Elapsed.TotalSeconds;
            long tokens = prepared.Sum(p => (long)p.TokenIds.Length);
            bool colour = r.GetValue(format) == "table" && outPath is null && AnsiColours.Wanted();
            string output = r.GetValue(format) == "json" ? JsonLines(probe, results) : Table(probe, results, colour);
            if (outPath is not null) AtomicFile.WriteAllText(outPath, output);
            else
            {
                var stdout = Console.OpenStandardOutput();
                stdout.Write(Encoding.UTF8.GetBytes(output));
                stdout.Flush();
            }
            Console.Error.WriteLine($"probe: {prepared.Count:N0} text(s), {tokens:N0} tokens × {chosen.Count:N0} neuron(s) on {dev.Name} ({gemm.Name()}): " +
                $"{probe.BatchesRun:N0} batch(es), {probe.PaddingTokens:N0} padding tokens, {seconds:F2} s ({tokens / Math.Max(seconds, 1e-9):N0} tokens/s)" +
                (outPath is not null ? $"; written to {outPath}" : ""));
            return CommandRunner.Done;
        }
        return cmd;
    }

    /// <summary>One JSON object per text × neuron: {text, tokens, token_ids, neuron: {layer, neuron}, activations, max, argmax}.</summary>
    internal static string JsonLines(ActivationProbe probe, IReadOnlyList<ProbeActivations> results)
    {
        using var buffer = new MemoryStream();
        var options = new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var tokenStrings = new Dictionary<ProbeText, string[]>(ReferenceEqualityComparer.Instance);
        foreach (var result in results)
        {
            if (!tokenStrings.TryGetValue(result.Text, out var strings)) tokenStrings[result.Text] = strings = probe.TokenStrings(result.Text);
            using (var w = new Utf8JsonWriter(buffer, options))
            {
                w.WriteStartObject();
                w.WriteString("text", result.Text.Text);
                w.WriteStartArray("tokens");
                foreach (var s in strings) w.WriteStringValue(s);
                w.WriteEndArray();
                w.WriteStartArray("token_ids");
                foreach (int id in result.Text.TokenIds) w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteStartObject("neuron");
                w.WriteNumber("layer", result.Neuron.Layer);
                w.WriteNumber("neuron", result.Neuron.Neuron);
                w.WriteEndObject();
                w.WriteStartArray("activations");
                foreach (float v in result.Activations) w.WriteNumberValue(v);
                w.WriteEndArray();
                w.WriteNumber("max", result.Max);
                w.WriteNumber("argmax", result.Argmax);
                w.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// Per text × neuron a header line and the tokens: coloured on a terminal (white → green up to the neuron's largest value
    /// over the probed texts, blue below zero, as the viewer colours records), else plain `token(value)` pairs.
    /// </summary>
    internal static string Table(ActivationProbe probe, IReadOnlyList<ProbeActivations> results, bool colour)
    {
        var peak = results.GroupBy(x => x.Neuron).ToDictionary(g => g.Key, g => g.Max(x => x.Max));
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        foreach (var result in results)
        {
            var strings = probe.TokenStrings(result.Text);
            sb.Append(inv, $"neuron {result.Neuron} · max {result.Max.ToString("0.###", inv)} at token {result.Argmax} · {Shown(result.Text.Text, 60)}\n");
            for (int t = 0; t < strings.Length; t++)
            {
                string token = Shown(strings[t], int.MaxValue);
                float v = result.Activations[t];
                if (colour) sb.Append(AnsiColours.Heat(token, v, peak[result.Neuron]));
                else sb.Append(inv, $"{token}({v.ToString("0.###", inv)})").Append(t + 1 < strings.Length ? " " : "");
            }
            if (colour) sb.Append(AnsiColours.Reset);
            sb.Append("\n\n");
        }
        return sb.ToString();
    }

    /// <summary>Control characters made visible (a newline token shows as ↵), cut to <paramref name="width"/> characters.</summary>
    private static string Shown(string s, int width)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s) sb.Append(c switch { '\n' => "↵", '\r' => "␍", '\t' => "⇥", _ when char.IsControl(c) => "·", _ => c.ToString() });
        string shown = sb.ToString();
        return shown.Length <= width ? shown : shown[..width] + "…";
    }

    /// <summary>24-bit ANSI background colours, only for a terminal that wants them (NO_COLOR and TERM=dumb respected).</summary>
    internal static class AnsiColours
    {
        public const string Reset = "\u001b[0m";

        public static bool Wanted() => !Console.IsOutputRedirected
            && Environment.GetEnvironmentVariable("NO_COLOR") is null or ""
            && Environment.GetEnvironmentVariable("TERM") is not "dumb";

        public static string Heat(string token, float value, float peak)
        {
            // White at 0 → green (#22c55e-ish) at the peak; blue for negative values (GELU's small dip).
            double f = peak > 0 && value > 0 ? Math.Min(1, value / peak) : 0;
            double b = value < 0 ? Math.Min(1, -value / 0.17) : 0;
            int red = (int)Math.Round(255 - f * (255 - 34) - b * 150), green = (int)Math.Round(255 - f * (255 - 197) - b * 100), blue = (int)Math.Round(255 - f * (255 - 94));
            return $"\u001b[48;2;{red};{green};{blue}m\u001b[38;2;0;0;0m{token}";
        }
    }
}
