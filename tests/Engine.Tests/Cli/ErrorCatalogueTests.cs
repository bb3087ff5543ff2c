using System.Diagnostics;
using System.Text.Json.Nodes;
using NeuronEngine.Cli;
using NeuronEngine.Corpus;
using NeuronEngine.Dump;
using NeuronEngine.Records;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Explain;
using NeuronEngine.Tests.Explain.Servers;
using NeuronEngine.Tests.Scoring;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Cli;

/// <summary>
/// The catalogue of mistakes (issue 11): every one a user can make with `engine`, each with its exit code and the exact
/// stderr it must give — one `error: …` line; two for a command-line mistake (the error, then "see `engine CMD --help`");
/// never a stack trace. Exit codes: 0 done, 1 some items failed, 2 bad input, 3 budget reached, 130 cancelled.
/// </summary>
public static class Catalogue
{
    private const string Parse = "parse", Model = "model", Corpus = "corpus", Output = "output", Llm = "llm", Score = "score";

    private static string[] Dump(params string[] more) => ["dump", "--model", "{model}", "--corpus", "{corpus}", "--device", "cpu", "--seq-len", "8", .. more];
    private static string[] DumpTo(params string[] more) => Dump(["--out", "{out}", .. more]);
    private static string[] Records(params string[] more) =>
        ["records", "--model", "{model}", "--corpus", "{corpus}", "--device", "cpu", "--seq-len", "8", .. more];
    private static string[] RecordsTo(params string[] more) => Records(["--out", "{out}", .. more]);
    private static string[] Related(params string[] more) => ["related", "--model", "{model}", "--out", "{out}", "--device", "cpu", .. more];
    private static string[] Connections(params string[] more) => ["connections", "--model", "{model}", "--out", "{out}", "--device", "cpu", .. more];
    private static string[] Explain(params string[] more) => ["explain", "--records", "{records}", "--out", "{out}", "--no-cache", "--examples-per-split", "2", .. more];
    private static string[] Run(params string[] more) => ["run", "--records", "{records}", "--out", "{out}", "--no-cache", "--examples-per-split", "2", "--retry-delay", "0.01", .. more];
    private static string[] ExplainServer(params string[] more) => Explain(["--base-url", "{server}", "--explainer-model", "explainer-model", "--retry-delay", "0.01", .. more]);

    private static string[] Probe(params string[] more) => ["probe", "--model", "{model}", "--device", "cpu", .. more];
    private static string Help(string command) => command.Length == 0 ? "see `engine --help`" : $"see `engine {command} --help`";

    private static byte[] Utf8(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    public static IReadOnlyList<CatalogueCase> All { get; } =
    [
        // ── the command line: exit 2, the error then one hint line ──────────────────────────────────────────────
        new(Parse, "no-command", [], 2, "error: no command given (commands: {commands})", Help("")),
        new(Parse, "unknown-command", ["frobnicate"], 2, "error: unknown command 'frobnicate' (commands: {commands})", Help("")),
        new(Parse, "unknown-option", Dump("--out", "{out}", "--bogus"), 2, "error: unknown option '--bogus' for `engine dump`", Help("dump")),
        new(Parse, "stray-argument", Dump("--out", "{out}", "extra"), 2, "error: unexpected argument 'extra' for `engine dump` (options take the form --name value)", Help("dump")),
        new(Parse, "missing-out", Dump(), 2, "error: --out is required", Help("dump")),
        new(Parse, "missing-value", Dump("--out"), 2, "error: --out needs a value", Help("dump")),
        new(Parse, "empty-out", Dump("--out", ""), 2, "error: --out: empty path", Help("dump")),
        new(Parse, "repeated-option", DumpTo("--seq-len", "16"), 2, "error: --seq-len is given more than once", Help("dump")),
        new(Parse, "batch-not-a-number", DumpTo("--batch", "x"), 2, "error: --batch: 'x' is not a whole number", Help("dump")),
        new(Parse, "dump-batch-0", DumpTo("--batch", "0"), 2, "error: --batch 0: must be at least 1", Help("dump")),
        new(Parse, "dump-batch-negative", DumpTo("--batch", "-1"), 2, "error: --batch -1: must be at least 1", Help("dump")),
        new(Parse, "records-batch-0", RecordsTo("--batch", "0"), 2, "error: --batch 0: must be at least 1", Help("records")),
        new(Parse, "records-batch-negative", RecordsTo("--batch", "-1"), 2, "error: --batch -1: must be at least 1", Help("records")),
        new(Parse, "layers-empty", DumpTo("--layers", ""), 2, "error: --layers: empty value (expected e.g. all, 0,3,5-7)", Help("dump")),
        new(Parse, "layers-malformed", DumpTo("--layers", "1-x"), 2, "error: --layers: '1-x' is not a layer index or range (expected e.g. all, 0,3,5-7)", Help("dump")),
        new(Parse, "layers-backwards", DumpTo("--layers", "1-0"), 2, "error: --layers: range '1-0' runs backwards", Help("dump")),
        new(Parse, "device-unknown", ["dump", "--model", "{model}", "--corpus", "{corpus}", "--out", "{out}", "--device", "tpu"], 2,
            "error: --device: 'tpu' is not one of auto, cuda, opencl, ilgpu-cpu, cpu", Help("dump")),
        new(Parse, "dtype-unknown", DumpTo("--dtype", "bf8"), 2, "error: --dtype: 'bf8' is not one of f32, f16", Help("dump")),
        new(Parse, "seq-len-0", ["dump", "--model", "{model}", "--corpus", "{corpus}", "--out", "{out}", "--seq-len", "0"], 2, "error: --seq-len 0: must be at least 1", Help("dump")),
        new(Parse, "max-windows-0", DumpTo("--max-windows", "0"), 2, "error: --max-windows 0: must be at least 1", Help("dump")),
        new(Parse, "windows-per-shard-0", DumpTo("--windows-per-shard", "0"), 2, "error: --windows-per-shard 0: must be at least 1", Help("dump")),
        new(Parse, "preset-unknown", ["info", "--preset", "gpt3"], 2, "error: --preset: 'gpt3' is not one of gpt2, gpt2-medium, gpt2-large, gpt2-xl", Help("info")),
        new(Parse, "records-format", RecordsTo("--format", "xml"), 2, "error: --format: 'xml' is not one of openai, packed", Help("records")),
        new(Parse, "records-shard", RecordsTo("--shard", "3/3"), 2, "error: --shard: '3/3' is not i/N with 0 ≤ i < N (e.g. 0/4)", Help("records")),
        new(Parse, "records-top-k", RecordsTo("--top-k", "-1"), 2, "error: --top-k -1: must be at least 0", Help("records")),
        new(Parse, "records-pilot", RecordsTo("--pilot-windows", "0"), 2, "error: --pilot-windows 0: must be at least 1", Help("records")),
        new(Parse, "records-checkpoint", RecordsTo("--checkpoint-windows", "-1"), 2, "error: --checkpoint-windows -1: must be at least 0", Help("records")),
        new(Parse, "records-seed-negative", RecordsTo("--seed", "-1"), 2, "error: --seed: '-1' is not a whole number ≥ 0", Help("records")),
        new(Parse, "bench-iterations", ["bench", "--model", "{model}", "--iterations", "0"], 2, "error: --iterations 0: must be at least 1", Help("bench")),
        new(Parse, "merge-no-inputs", ["merge", "--out", "{out}"], 2, "error: --inputs is required", Help("merge")),
        new(Parse, "score-no-explanations", ["score", "--out", "{out}"], 2, "error: --explanations is required", Help("score")),
        new(Parse, "explain-retries-negative", Explain("--retries", "-1"), 2, "error: --retries -1: must be at least 0", Help("explain")),
        new(Parse, "explain-timeout-0", Explain("--timeout", "0"), 2, "error: --timeout 0: must be positive", Help("explain")),
        new(Parse, "explain-neurons-empty", Explain("--neurons", ""), 2, "error: --neurons: empty value (expected e.g. all, 0,3,5-7)", Help("explain")),
        new(Parse, "explain-simulator-option", Explain("--simulator-mode", "json"), 2, "error: unknown option '--simulator-mode' for `engine explain`", Help("explain")),
        new(Parse, "simulate-explainer-option", ["simulate", "--records", "{records}", "--explainer-output", "{case}", "--out", "{out}", "--samples", "2"], 2,
            "error: unknown option '--samples' for `engine simulate`", Help("simulate")),
        new(Parse, "simulate-no-input", ["simulate", "--records", "{records}", "--out", "{out}"], 2, "error: --explainer-output is required", Help("simulate")),
        new(Parse, "simulate-mode-unknown", ["simulate", "--records", "{records}", "--explainer-output", "{case}", "--out", "{out}", "--simulator-mode", "psychic"], 2,
            "error: --simulator-mode: 'psychic' is not one of logprobs, json, echo", Help("simulate")),
        new(Parse, "explain-revise-negative", Explain("--revise", "-1"), 2, "error: --revise -1: must be at least 0", Help("explain")),
        new(Parse, "run-probe-texts-negative", ["run", "--records", "{records}", "--out", "{out}", "--probe-texts", "-2"], 2, "error: --probe-texts -2: must be at least 0", Help("run")),
        new(Parse, "run-top-logprobs", ["run", "--records", "{records}", "--out", "{out}", "--top-logprobs", "21"], 2, "error: --top-logprobs 21: must be within 1..20", Help("run")),

        // ── the model ────────────────────────────────────────────────────────────────────────────────────────
        new(Model, "model-missing", ["dump", "--model", "{case}/nowhere", "--corpus", "{corpus}", "--out", "{out}"], 2, "error: {case}/nowhere: no such model file or directory"),
        new(Model, "model-dir-empty", ["info", "--model", "{case}/empty"], 2, "error: {case}/empty: directory has no model.safetensors") { Setup = c => Directory.CreateDirectory(c["empty"]) },
        new(Model, "model-and-preset", ["info", "--model", "{model}", "--preset", "gpt2"], 2, "error: give either --model or --preset, not both"),
        new(Model, "model-truncated", ["info", "--model", "{case}/m"], 2,
            "error: {case}/m/model.safetensors: tensor 'ln_f.bias': data_offsets [{n}, {n}] run past the end of the data ({n} bytes): the file is truncated")
            { Setup = c => c.DamagedModel("m", b => b[..^100]) },
        new(Model, "model-tiny-file", ["info", "--model", "{case}/m"], 2, "error: {case}/m/model.safetensors: file is 5 bytes, shorter than the 8-byte header length")
            { Setup = c => c.DamagedModel("m", _ => [1, 2, 3, 4, 5]) },
        new(Model, "model-header-length-lies", ["info", "--model", "{case}/m"], 2, "error: {case}/m/model.safetensors: header length 1000000 runs past the end of the {n}-byte file")
            { Setup = c => c.DamagedModel("m", b => [.. BitConverter.GetBytes(1_000_000L), .. b.AsSpan(8, 2000)]) },
        new(Model, "model-header-not-json", ["info", "--model", "{case}/m"], 2, "error: {case}/m/model.safetensors: header is not valid JSON ({any})")
            { Setup = c => c.ModelWithHeader("m", h => "{" + h[2..]) },
        new(Model, "model-offsets-lie", ["info", "--model", "{case}/m"], 2, "error: {case}/m/model.safetensors: tensor 'wpe.weight': holds 8196 bytes but shape [64, 32] of F32 needs 8192")
            { Setup = c => c.ModelWithHeader("m", h => System.Text.RegularExpressions.Regex.Replace(h, "\"wpe.weight\":\\{([^}]*)\"data_offsets\":\\[(\\d+)", m => $"\"wpe.weight\":{{{m.Groups[1].Value}\"data_offsets\":[{long.Parse(m.Groups[2].Value) - 4}")) },
        new(Model, "model-not-gpt2", ["info", "--model", "{case}/m"], 2, "error: {case}/m/model.safetensors: no 'wte.weight' (nor 'transformer.wte.weight'): not a GPT-2 checkpoint")
            { Setup = c => c.ModelWithHeader("m", h => h.Replace("\"wte.weight\"", "\"embedding\"")) },
        new(Model, "model-missing-tensor", ["info", "--model", "{case}/m"], 2, "error: {case}/m/model.safetensors: missing tensor 'h.1.mlp.c_fc.weight'")
            { Setup = c => c.ModelWithHeader("m", h => h.Replace("\"h.1.mlp.c_fc.weight\"", "\"h.1.mlp.c_fc.weights\"")) },
        new(Model, "model-wrong-shape", ["info", "--model", "{case}/m"], 2,
            "error: {case}/m/model.safetensors: tensor 'h.0.mlp.c_fc.bias' has shape [64, 2], expected [128] (config: n_layer 2, n_head 2, n_embd 32, n_positions 64, vocab_size 50257)")
            { Setup = c => c.ModelWithHeader("m", h => h.Replace("\"h.0.mlp.c_fc.bias\":{\"dtype\":\"F32\",\"shape\":[128]", "\"h.0.mlp.c_fc.bias\":{\"dtype\":\"F32\",\"shape\":[64,2]")) },
        new(Model, "model-wrong-dtype", ["info", "--model", "{case}/m"], 2, "error: {case}/m/model.safetensors: tensor 'ln_f.weight' is I32; weights must be F32, F16 or BF16")
            { Setup = c => c.ModelWithHeader("m", h => h.Replace("\"ln_f.weight\":{\"dtype\":\"F32\"", "\"ln_f.weight\":{\"dtype\":\"I32\"")) },
        new(Model, "model-config-not-json", ["info", "--model", "{case}/m"], 2, "error: {case}/m/config.json: not valid JSON ({any})")
            { Setup = c => c.DamagedModel("m", b => b, "{\"n_layer\": 2,") },
        new(Model, "model-config-unsupported", ["info", "--model", "{case}/m"], 2, "error: {case}/m/config.json: activation_function 'relu' is not supported (GPT-2 uses gelu_new)")
            { Setup = c => c.DamagedModel("m", b => b, """{"n_layer": 2, "n_head": 2, "n_embd": 32, "n_positions": 64, "vocab_size": 50257, "activation_function": "relu"}""") },
        new(Model, "model-config-sizes", ["info", "--model", "{case}/m"], 2, "error: {case}/m/config.json: n_embd 32 is not divisible by n_head 3")
            { Setup = c => c.DamagedModel("m", b => b, """{"n_layer": 2, "n_head": 3, "n_embd": 32, "n_positions": 64, "vocab_size": 50257}""") },
        new(Model, "model-nan", ["dump", "--model", "{case}/nan", "--corpus", "{corpus}", "--out", "{out}", "--device", "cpu"], 2,
            "error: {case}/nan/model.safetensors: tensor 'h.1.mlp.c_fc.weight' holds NaN (first at element 17 of 4096): the weights are damaged")
            { Setup = c => c.ModelWithValue("nan", "h.1.mlp.c_fc.weight", 17, float.NaN),
              Then = c => Assert.False(Directory.Exists(c.Out), "nothing is written for damaged weights") },
        new(Model, "model-inf-f16", ["bench", "--model", "{case}/inf", "--device", "cpu"], 2, "error: {case}/inf/model.safetensors: tensor 'wpe.weight' holds +Inf (first at element 5 of 2048): the weights are damaged")
            { Setup = c => c.ModelWithValue("inf", "wpe.weight", 5, float.PositiveInfinity, NeuronEngine.Format.TensorDType.F16) },
        new(Model, "seq-len-too-long", ["dump", "--model", "{model}", "--corpus", "{corpus}", "--out", "{out}", "--device", "cpu", "--seq-len", "65"], 2,
            "error: corpus {corpus}: window length 65 exceeds the model's n_positions 64"),
        new(Model, "bench-seq-len-too-long", ["bench", "--model", "{model}", "--device", "cpu", "--seq-len", "65"], 2, "error: --seq-len 65 must be within 1..64"),
        new(Model, "layers-outside", DumpTo("--layers", "2"), 2, "error: --layers: '2' is outside the model's layers 0-1"),
        new(Model, "preset-layers-outside-writes-nothing", ["dump", "--preset", "gpt2", "--corpus", "{corpus}", "--out", "{out}", "--layers", "99"], 2,
            "error: --layers: '99' is outside the model's layers 0-11")
        {
            // Checked against the preset's shape before 0.5 GB of synthetic weights are written for nothing.
            Then = c => Assert.False(Directory.Exists(Path.Combine(c["cache"], "synthetic")), "synthetic weights were written before the layers were checked"),
        },
        new(Model, "synthetic-kept-quietly", ["dump", "--preset", "gpt2", "--corpus", "{corpus}", "--out", "{out}", "--device", "cpu", "--seq-len", "8", "--max-windows", "2"], 0,
            "dump: 2 windows × 8 tokens, layers 0-1 on cpu (fp32): 1 shard(s) in {out} (1 written now, 0 kept from an earlier run)")
        {
            // A cached synthetic model (here the tiny one under gpt2's name) is used without a word; a generation that was
            // killed (its process is gone) leaves a temp folder that the next run removes, a live one's is left alone.
            Setup = c =>
            {
                string cached = NeuronEngine.Model.SyntheticModelCache.DirectoryFor("gpt2", 0, NeuronEngine.Format.TensorDType.F32).Replace(NeuronEngine.Model.SyntheticModelCache.Root, c["cache"]);
                Directory.CreateDirectory(cached);
                foreach (var f in Directory.GetFiles(c.Fixture.Model)) File.Copy(f, Path.Combine(cached, Path.GetFileName(f)));
                using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
                gone.WaitForExit();
                Directory.CreateDirectory(cached + $".{Environment.MachineName}-{gone.Id}.tmp");
                Directory.CreateDirectory(cached + $".{Environment.MachineName}-{Environment.ProcessId}.tmp");
                c.State["cached"] = cached;
                c.State["stale"] = cached + $".{Environment.MachineName}-{gone.Id}.tmp";
            },
            Then = c =>
            {
                Assert.False(Directory.Exists((string)c.State["stale"]), "the stale generation folder is removed");
                Assert.True(Directory.Exists((string)c.State["cached"] + $".{Environment.MachineName}-{Environment.ProcessId}.tmp"), "a live generation's folder is kept");
            },
        },

        // ── the corpus ───────────────────────────────────────────────────────────────────────────────────────
        new(Corpus, "corpus-missing", ["dump", "--model", "{model}", "--corpus", "{case}/nope.txt", "--out", "{out}"], 2, "error: corpus {case}/nope.txt not found"),
        new(Corpus, "corpus-directory", ["dump", "--model", "{model}", "--corpus", "{case}", "--out", "{out}"], 2, "error: corpus {case} is a directory, not a .txt, .jsonl or .bin (llm.c tokens) file"),
        new(Corpus, "corpus-extension", ["dump", "--model", "{model}", "--corpus", "{case}/c.csv", "--out", "{out}"], 2,
            "error: corpus {case}/c.csv has unsupported extension '.csv'; supported: .txt, .jsonl or .bin (llm.c tokens)") { Setup = c => c.Write("c.csv", "a,b") },
        new(Corpus, "corpus-too-short", ["dump", "--model", "{model}", "--corpus", "{case}/c.txt", "--out", "{out}"], 2, "error: corpus {case}/c.txt has 2 tokens, fewer than one window of 64")
            { Setup = c => c.Write("c.txt", "Hello world") },
        new(Corpus, "eval-corpus-too-short", ["eval", "--model", "{model}", "--corpus", "{case}/c.txt", "--device", "cpu"], 2, "error: corpus {case}/c.txt has 2 tokens, fewer than one window of 64")
            { Setup = c => c.Write("c.txt", "Hello world") },
        new(Corpus, "jsonl-not-json", ["dump", "--model", "{model}", "--corpus", "{case}/c.jsonl", "--out", "{out}", "--seq-len", "4"], 2,
            "error: corpus {case}/c.jsonl line 2 is not valid JSON (at byte 9): {any}") { Setup = c => c.Write("c.jsonl", "{\"text\": \"one two three four five\"}\n{\"text\": oops}\n") },
        new(Corpus, "jsonl-no-text", ["dump", "--model", "{model}", "--corpus", "{case}/c.jsonl", "--out", "{out}", "--seq-len", "4"], 2,
            "error: corpus {case}/c.jsonl line 1 has no \"text\" field") { Setup = c => c.Write("c.jsonl", "{\"body\": \"one two three four five\"}\n") },
        new(Corpus, "jsonl-text-number", ["dump", "--model", "{model}", "--corpus", "{case}/c.jsonl", "--out", "{out}", "--seq-len", "4"], 2,
            "error: corpus {case}/c.jsonl line 1: \"text\" is a number, not a string") { Setup = c => c.Write("c.jsonl", "{\"text\": 5}\n") },
        new(Corpus, "bin-bad-magic", ["dump", "--model", "{model}", "--corpus", "{case}/c.bin", "--out", "{out}", "--seq-len", "4"], 2,
            "error: corpus {case}/c.bin is not an llm.c token file: magic is 0, expected 20240520") { Setup = c => c.WriteBytes("c.bin", new byte[2048]) },
        new(Corpus, "bin-token-outside-vocabulary", ["dump", "--model", "{model}", "--corpus", "{case}/c.bin", "--out", "{out}", "--seq-len", "4", "--device", "cpu"], 2,
            "error: corpus {case}/c.bin: token at position 5 has id 60000, outside the model's vocabulary of 50257 ids")
            { Setup = c => LlmcTokenFile.Write(c["c.bin"], [1, 2, 3, 4, 5, 60000, 7, 8]) },
        new(Corpus, "corpus-invalid-utf8", ["dump", "--model", "{model}", "--corpus", "{case}/c.txt", "--out", "{out}", "--device", "cpu", "--seq-len", "8"], 0,
            "warning: corpus {case}/c.txt: 2 byte(s) are not valid UTF-8 and were read as U+FFFD",
            "dump: {n} windows × 8 tokens, layers 0-1 on cpu (fp32): 1 shard(s) in {out} (1 written now, 0 kept from an earlier run)")
            { Setup = c => c.WriteBytes("c.txt", [.. Utf8("The herons "), 0xFF, .. Utf8("watched the boats "), 0xC3, 0x28, .. Utf8(" and the river ran on and on past the quiet town.")]) },

        // ── engine probe: neurons, texts ──────────────────────────────────────────────────────────────────────
        new(Corpus, "probe-neuron-out-of-range", Probe("--text", "hi", "--neurons", "1:3,1:128"), 2, "error: --neurons: '1:128': neuron 128 is outside the layer's neurons 0-127"),
        new(Corpus, "probe-neuron-unknown-layer", Probe("--text", "hi", "--neurons", "2:0"), 2, "error: --neurons: '2:0': layer 2 is outside the model's layers 0-1"),
        new(Corpus, "probe-neuron-malformed", Probe("--text", "hi", "--neurons", "5-131"), 2, "error: --neurons: '5-131' is not layer:neuron (expected e.g. 5:131,5:2080)"),
        new(Corpus, "probe-layers-unknown", Probe("--text", "hi", "--layers", "3"), 2, "error: --layers: '3' is outside the model's layers 0-1"),
        new(Corpus, "probe-no-neurons", Probe("--text", "hi"), 2, "error: give --neurons (e.g. 5:131,5:2080) or --layers (every neuron of those layers)"),
        new(Corpus, "probe-no-text", Probe("--neurons", "0:1"), 2, "error: give --text \"…\" or --texts FILE (.txt or .jsonl)"),
        new(Corpus, "probe-empty-text", Probe("--text", "fine", "--text", "", "--neurons", "0:1"), 2, "error: --text 2: empty text (no tokens)"),
        new(Corpus, "probe-texts-missing", Probe("--texts", "{case}/none.txt", "--neurons", "0:1"), 2, "error: --texts {case}/none.txt: no such file"),
        new(Corpus, "probe-texts-blank", Probe("--texts", "{case}/t.txt", "--neurons", "0:1"), 2, "error: --texts {case}/t.txt: no texts (every line is blank)")
            { Setup = c => c.Write("t.txt", "\n  \n\n") },
        new(Corpus, "probe-texts-bad-line", Probe("--texts", "{case}/t.jsonl", "--neurons", "0:1"), 2, "error: --texts {case}/t.jsonl line 2 is not valid JSON (at byte 9): {any}")
            { Setup = c => c.Write("t.jsonl", "{\"text\": \"one two\"}\n{\"text\": oops}\n") },
        new(Corpus, "probe-texts-empty-text", Probe("--texts", "{case}/t.jsonl", "--neurons", "0:1"), 2, "error: --texts {case}/t.jsonl line 1: \"text\" is empty")
            { Setup = c => c.Write("t.jsonl", "{\"text\": \"\"}\n") },
        new(Parse, "probe-format-unknown", Probe("--text", "hi", "--neurons", "0:1", "--format", "csv"), 2, "error: --format: 'csv' is not one of json, table", Help("probe")),

        // ── the output location, concurrent runs, full disks, cancellation ─────────────────────────────────────
        new(Output, "out-is-a-file", DumpTo(), 2, "error: --out {out} is a file, not a directory") { Setup = c => c.Write("out", "x") },
        new(Output, "out-parent-is-a-file", ["records", "--model", "{model}", "--corpus", "{corpus}", "--out", "{case}/f/out", "--device", "cpu", "--seq-len", "8"], 2,
            "error: --out {case}/f/out: {case}/f is a file, not a directory") { Setup = c => c.Write("f", "x") },
        new(Output, "score-out-is-a-file", ["score", "--explanations", "{case}/in", "--out", "{out}"], 2, "error: --out {out} is a file, not a directory")
            { Setup = c => { Directory.CreateDirectory(c["in"]); c.Write("out", "x"); } },
        new(Output, "dump-other-settings", DumpTo("--max-windows", "3"), 2,
            "error: {out}/manifest.json: this directory holds a dump made with other settings (seq-len 16 there vs 8 now); use a new --out or delete it")
            { Setup = c => Assert.Equal(0, c.Engine(["dump", "--model", "{model}", "--corpus", "{corpus}", "--out", "{out}", "--device", "cpu", "--seq-len", "16", "--max-windows", "3"]).ExitCode) },
        new(Output, "records-other-settings", RecordsTo("--max-windows", "3"), 2,
            "error: {out}/records.json: this directory holds records made with other settings (top-k 5 there vs 20 now); use a new --out or delete it")
            {
                Setup = c => Assert.Equal(0, c.Engine(["records", "--model", "{model}", "--corpus", "{corpus}", "--device", "cpu", "--seq-len", "8", "--top-k", "5", "--random", "4",
                    "--quantile-samples", "2", "--out", "{out}", "--max-windows", "3"]).ExitCode),
            },
        new(Output, "records-strangers", RecordsTo(), 2, "error: {out}: the directory holds other files (notes.txt) and no records.json; use a new --out")
            { Setup = c => c.Write("out/notes.txt", "mine") },
        new(Output, "records-dump-out-with-shard", RecordsTo("--shard", "0/2", "--dump-out", "{case}/dump"), 2,
            "error: --dump-out cannot be combined with --shard (a dump covers the whole corpus; shard the records, or dump separately)"),
        new(Output, "records-token-lookup-with-shard", RecordsTo("--shard", "0/2", "--token-lookup", "5"), 2,
            "error: --token-lookup cannot be combined with --shard (engine merge does not merge the token-lookup sums); run the token lookup unsharded"),
        new(Parse, "records-token-lookup-min-count-0", RecordsTo("--token-lookup", "5", "--token-lookup-min-count", "0"), 2,
            "error: --token-lookup-min-count 0: must be at least 1", Help("records")),
        new(Output, "records-top-k-0", RecordsTo("--top-k", "0", "--max-windows", "4", "--layers", "0"), 0,
            "warning: --top-k 0: the records will hold no top windows (most_positive_activation_records empty), which explain, simulate and run need; only the random and quantile-band samples and the moments are collected",
            "records: windows 0-3 of 4 × 8 tokens, layers 0 on cpu (fp32): --format openai in {out}",
            "records: time: {any}")
        {
            Then = c =>
            {
                var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(c.Out, "0", "0.json")))!;
                Assert.Empty(record["most_positive_activation_records"]!.AsArray());
                Assert.Equal(4, record["random_sample"]!.AsArray().Count); // --random 20 of the 4 windows: all of them
            },
        },
        new(Output, "records-top-k-limit", RecordsTo("--top-k", "1001"), 2, "error: --top-k, --random and --quantile-samples are limited to 1000 windows each"),
        new(Output, "merge-openai-input", ["merge", "--inputs", "{case}/a", "--out", "{out}"], 2, "error: {case}/a: holds --format openai records; merge needs --format packed inputs")
            { Setup = c => Assert.Equal(0, c.Engine(Records("--out", "{case}/a", "--max-windows", "4", "--layers", "0")).ExitCode) },
        new(Output, "merge-overlap", ["merge", "--inputs", "{case}/a", "{case}/a", "--out", "{out}"], 2, "error: {case}/a: windows 0-3 overlap windows 0-3 of another input")
            { Setup = c => Assert.Equal(0, c.Engine(Records("--out", "{case}/a", "--max-windows", "4", "--layers", "0", "--format", "packed")).ExitCode) },
        new(Output, "merge-missing-input", ["merge", "--inputs", "{case}/nope", "--out", "{out}"], 2, "error: {case}/nope: no such records directory"),
        // related tokens from the weights (docs/related.md)
        new(Parse, "related-top-0", Related("--top", "0"), 2, "error: --top 0: must be at least 1", Help("related")),
        new(Parse, "related-definition-unknown", Related("--definition", "exact"), 2, "error: --definition: 'exact' is not one of openai, direct-path", Help("related")),
        new(Model, "related-layers-outside", Related("--layers", "2"), 2, "error: --layers: '2' is outside the model's layers 0-1"),
        new(Model, "ablate-neuron-outside", ["ablate", "--model", "{model}", "--corpus", "{corpus}", "--out", "{out}", "--device", "cpu", "--seq-len", "8", "--neurons", "0,128"], 2,
            "error: --neurons: '128' is outside the model's neurons 0-127"),
        new(Model, "ablate-layers-outside", ["ablate", "--model", "{model}", "--corpus", "{corpus}", "--out", "{out}", "--device", "cpu", "--seq-len", "8", "--layers", "2"], 2,
            "error: --layers: '2' is outside the model's layers 0-1"),
        new(Parse, "ablate-ablation-unknown", ["ablate", "--model", "{model}", "--corpus", "{corpus}", "--out", "{out}", "--ablation", "half"], 2,
            "error: --ablation: 'half' is not one of mean, zero", Help("ablate")),
        new(Model, "related-model-without-ln-f", ["related", "--model", "{case}/m", "--out", "{out}", "--device", "cpu"], 2, "error: {case}/m/model.safetensors: missing tensor 'ln_f.weight'")
            { Setup = c => c.ModelWithHeader("m", h => h.Replace("\"ln_f.weight\"", "\"ln_f.gain\"")) },
        new(Output, "related-wpe0-with-openai", Related("--with-wpe0"), 2,
            "error: --with-wpe0 belongs to --definition direct-path: OpenAI's definition reads wte alone, no position embedding")
            { Then = c => Assert.False(Directory.Exists(c.Out), "nothing is written") },
        new(Output, "related-strangers", Related(), 2, "error: {out}: the directory holds other files (notes.txt) and no related.json; use a new --out")
            { Setup = c => c.Write("out/notes.txt", "mine") },
        new(Output, "related-other-definition", Related(), 2,
            "error: {out}/related.json: this directory holds related tokens with a different definition (direct-path vs openai); use a new --out or delete it")
            { Setup = c => Assert.Equal(0, c.Engine(Related("--definition", "direct-path", "--layers", "0", "--top", "2")).ExitCode) },
        // neuron-to-neuron connections (docs/related.md)
        new(Parse, "connections-top-0", Connections("--top", "0"), 2, "error: --top 0: must be at least 1", Help("connections")),
        new(Parse, "connections-format-unknown", Connections("--format", "openai"), 2, "error: --format: 'openai' is not one of packed, json, both", Help("connections")),
        new(Model, "connections-layers-outside", Connections("--layers", "0,5"), 2, "error: --layers: '5' is outside the model's layers 0-1"),
        new(Model, "connections-model-without-ln-2", ["connections", "--model", "{case}/m", "--out", "{out}", "--device", "cpu"], 2,
            "error: {case}/m/model.safetensors: missing tensor 'h.1.ln_2.weight'")
            { Setup = c => c.ModelWithHeader("m", h => h.Replace("\"h.1.ln_2.weight\"", "\"h.1.ln_2.gain\"")) },
        new(Output, "connections-strangers", Connections(), 2, "error: {out}: the directory holds other files (notes.txt) and no connections.json; use a new --out")
            { Setup = c => c.Write("out/notes.txt", "mine") },
        new(Output, "connections-other-settings", Connections("--top", "3", "--layers", "1"), 2,
            "error: {out}/connections.json: this directory holds connections with a different top (2 vs 3); use a new --out or delete it")
            { Setup = c => Assert.Equal(0, c.Engine(Connections("--top", "2", "--layers", "1")).ExitCode) },
        new(Output, "connections-first-layer-only", Connections("--layers", "0", "--top", "2"), 0,
            "connections: layer 0 has no earlier layer: its upstream lists are empty",
            "connections: layers 0 × 128 neurons, top 2, 1 layer pair(s) of 128 × 32 × 128, on cpu (fp32): --format packed in {out}",
            "connections: time: compute {any}")
            { Then = c => Assert.True(File.Exists(Path.Combine(c.Out, "layer-0.safetensors"))) },
        new(Output, "lock-held", RecordsTo(), 2,
            "error: --out {out} is in use by another run (pid {n} on {any} since {any}: engine records {any}); wait for it to finish or use another --out")
        {
            // A records run that holds after its first checkpoint (ENGINE_TEST_HOLD_AFTER_CHECKPOINTS) has the directory.
            Setup = c => c.State["holder"] = StartHolder(c),
            Then = c =>
            {
                var holder = (Process)c.State["holder"];
                holder.Kill(); // SIGKILL: the lock dies with it …
                holder.WaitForExit();
                var rerun = c.Engine(RecordsTo("--checkpoint-windows", "4", "--batch", "4"));
                Assert.True(rerun.ExitCode == 0, rerun.StdErr); // … so the same command then resumes and finishes
                Assert.Contains("resumed from the checkpoint", rerun.StdErr);
                Assert.False(File.Exists(Path.Combine(c.Out, NeuronEngine.IO.OutputDirectory.LockFileName)));
            },
        },
        new(Output, "cancelled", RecordsTo(), 130, "cancelled; rerun the same command to resume")
        {
            // Ctrl+C (SIGINT) during a run: exit code 130, one line, and the rerun resumes.
            Run = c =>
            {
                var p = StartHolder(c); // ended by the context whatever happens below
                Assert.True(CatalogueFixture.Run("kill", ["-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], out string? error), error);
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), "the run did not stop on SIGINT");
                return (p.ExitCode, stdout.Result, stderr.Result);
            },
        },
        new(Output, "read-only-new-dir", ["dump", "--model", "{model}", "--corpus", "{corpus}", "--out", "{ro}/new", "--device", "cpu"], 2,
            "error: --out {ro}/new: cannot create the directory (read-only file system)") { NeedsRoot = true, Setup = RequireReadOnlyMount },
        new(Output, "read-only-existing-dir", ["records", "--model", "{model}", "--corpus", "{corpus}", "--out", "{ro}/existing", "--device", "cpu", "--seq-len", "8"], 2,
            "error: --out {ro}/existing: cannot write there (read-only file system)") { NeedsRoot = true, Setup = RequireReadOnlyMount },
        new(Output, "read-only-score", ["score", "--explanations", "{case}", "--out", "{ro}/scores"], 2,
            "error: --out {ro}/scores: cannot create the directory (read-only file system)") { NeedsRoot = true, Setup = RequireReadOnlyMount },
        new(Output, "read-only-explain", ["explain", "--records", "{records}", "--out", "{ro}/expl", "--base-url", "{server}", "--explainer-model", "m"], 2,
            "error: --out {ro}/expl: cannot create the directory (read-only file system)") { NeedsRoot = true, NeedsServer = true, Setup = RequireReadOnlyMount },
        new(Output, "full-disk-dump-checked-up-front", ["dump", "--model", "{model}", "--corpus", "{corpus}", "--out", "{case}/small/out", "--device", "cpu", "--seq-len", "8"], 2,
            "error: {case}/small/out: the 1 shard(s) still to write need {size} but only {size} is free there; free some space (or use another location) and rerun")
            { NeedsRoot = true, Setup = c => MountSmall(c, "256k"), Then = c => Assert.False(Directory.Exists(c["small/out"]), "a refused run leaves nothing behind") },
        new(Output, "full-disk-after-the-checks", RecordsTo("--dump-out", "{case}/small/dump", "--format", "packed").Select(a => a == "{out}" ? "{case}/small/out" : a).ToArray(), 2,
            "error: {case}/small/out/{any}.safetensors: no space left on the device for this {size} file ({size} free); free some space (or use another location) and rerun to continue")
        {
            // Each output fits the free space alone (so both up-front checks pass) but not both: the dump is written, then
            // the packed records find the disk full when their space is reserved (before any store through the map).
            // Freeing space (here: a file of the user's) and rerunning keeps the dump and finishes the records.
            NeedsRoot = true,
            Setup = c =>
            {
                var f = c.Fixture;
                using var windows = CorpusReader.Open(f.Corpus, 8, f.Config.NPositions, f.Config.VocabSize);
                var dump = new DumpSettings
                {
                    Model = "m", ModelFingerprint = "", Corpus = "", CorpusFingerprint = "", NLayer = 2, NeuronsPerLayer = f.Config.DMlp, Layers = [0, 1],
                    SeqLen = 8, DType = "F32", WindowsPerShard = 256, TotalWindows = windows.Count,
                };
                long x = Enumerable.Range(0, (int)((windows.Count + 255) / 256)).Sum(i => MlpActivationShardWriter.FileBytes(dump, (int)Math.Min(256, windows.Count - 256L * i)));
                long p = 2 * PackedRecordsFile.FileBytes(new RecordShape(f.Config.DMlp, 8, 20, 20, 5, 0));
                long size = 2 * (x + p) / 4096 * 4096;
                MountSmall(c, $"{size / 1024}k");
                long free = (x + p) * 3 / 4;
                Assert.True(free > Math.Max(x, p) + 64 * 1024, $"the dump ({x} bytes) and the records ({p}) are too unequal for this case");
                c.WriteBytes("small/users-file", new byte[size - free]);
            },
            Then = c =>
            {
                Assert.True(DumpManifest.TryLoad(c["small/dump"]) is { Complete: true }, "the dump was finished before the disk filled up");
                File.Delete(c["small/users-file"]);
                var rerun = c.Engine(RecordsTo("--dump-out", "{case}/small/dump", "--format", "packed").Select(a => a == "{out}" ? "{case}/small/out" : a).ToArray());
                Assert.True(rerun.ExitCode == 0, rerun.StdErr);
                Assert.True(RecordsManifest.TryLoad(c["small/out"]) is { Complete: true });
            },
        },
        new(Output, "full-disk-records-json", ["records", "--model", "{model}", "--corpus", "{corpus}", "--out", "{case}/small/out", "--device", "cpu", "--seq-len", "8", "--top-k", "20", "--random", "20"], 2,
            "error: {case}/small/out/{n}/{n}.json: no space left on the device; free some space (or use another location) and rerun to continue")
            { NeedsRoot = true, Setup = c => MountSmall(c, "512k") },
        new(Output, "full-disk-synthetic-weights", ["bench", "--preset", "gpt2", "--device", "cpu"], 2,
            "error: {case}/small/synthetic: synthetic gpt2 weights need {size} but only {size} is free there; free some space (or use another location) and rerun")
            { NeedsRoot = true, Environment = new() { ["ENGINE_CACHE"] = "{case}/small" }, Setup = c => MountSmall(c, "1m") },

        // ── scoring ──────────────────────────────────────────────────────────────────────────────────────────
        new(Score, "score-input-missing", ["score", "--explanations", "{case}/nope", "--out", "{out}"], 2, "error: --explanations {case}/nope: no such directory"),
        new(Score, "score-input-is-a-file", ["score", "--explanations", "{case}/f", "--out", "{out}"], 2, "error: --explanations {case}/f is a file, not a directory") { Setup = c => c.Write("f", "x") },
        new(Score, "score-nothing-to-score", ["score", "--explanations", "{case}/in", "--out", "{out}"], 2, "error: --explanations {case}/in: no {layer}/{neuron}.jsonl files found")
            { Setup = c => Directory.CreateDirectory(c["in/notes"]) },
        new(Score, "score-nothing-scored", ["score", "--explanations", "{case}/in", "--out", "{out}"], 2,
            "error: --explanations {case}/in: none of the 1 file(s) could be scored (first: {case}/in/0/3.jsonl: {any}); all are listed in {out}/failures.jsonl")
            { Setup = c => c.Write("in/0/3.jsonl", "{not json\n") },
        new(Score, "score-some-failed", ["score", "--explanations", "{case}/in", "--out", "{out}", "--device", "cpu"], 1,
            "1 file(s) could not be scored (all listed in failures.jsonl):", "  {case}/in/2/7.jsonl: {any}")
        {
            Setup = c =>
            {
                SimulationResultsFile.Write(SimulationResultsFile.PathFor(c["in"], 0, 5), SimulationResultsFixtures.HandCheckable(0, 5, storedScore: 0.5));
                c.Write("in/2/7.jsonl", "{not json\n");
            },
            Then = c => Assert.Single(File.ReadAllLines(Path.Combine(c.Out, "scores.jsonl"))),
        },

        // ── explain / simulate / run (a scripted server on 127.0.0.1) ───────────────────────────────────────────
        new(Llm, "llm-no-endpoint", Explain(), 2,
            "error: no LLM endpoint configured: give --base-url URL (or \"base-url\" in --config FILE, or set ENGINE_BASE_URL), e.g. https://api.openai.com/v1, http://localhost:8000/v1 (vLLM) or http://localhost:11434/v1 (Ollama), and --explainer-model NAME; put the API key, if the endpoint needs one, in ENGINE_API_KEY (or OPENAI_API_KEY)"),
        new(Llm, "llm-no-model", Explain("--base-url", "http://127.0.0.1:9/v1"), 2,
            "error: no explainer model configured: give --explainer-model NAME (or \"explainer-model\" in --config FILE), e.g. gpt-4o-mini, or the model your vLLM/Ollama server serves"),
        new(Llm, "llm-bad-url", Explain("--base-url", "ftp://example.org", "--explainer-model", "m"), 2, "error: --base-url ftp://example.org: not an http(s) URL (expected e.g. https://api.openai.com/v1)"),
        new(Llm, "llm-config-missing", Explain("--config", "{case}/nope.json"), 2, "error: --config {case}/nope.json: no such file"),
        new(Llm, "llm-config-key", Explain("--config", "{case}/c.json"), 2,
            "error: --config {case}/c.json: \"api_key\" is refused: the API key is read only from ENGINE_API_KEY or OPENAI_API_KEY, so it never lands in a file")
            { Setup = c => c.Write("c.json", "{\"api_key\": \"sk-secret\"}") },
        new(Llm, "llm-config-unknown", Explain("--config", "{case}/c.json"), 2, "error: --config {case}/c.json: unknown option \"base-urll\"")
            { Setup = c => c.Write("c.json", "{\"base-urll\": \"x\"}") },
        new(Llm, "llm-config-bad-value", Explain("--config", "{case}/c.json", "--base-url", "http://127.0.0.1:9/v1", "--explainer-model", "m"), 2,
            "error: --config {case}/c.json: --retries -2: must be at least 0") { Setup = c => c.Write("c.json", "{\"retries\": -2}") },
        new(Llm, "llm-records-missing", ["explain", "--records", "{case}/nope", "--out", "{out}", "--base-url", "http://127.0.0.1:9/v1", "--explainer-model", "m"], 2,
            "error: --records {case}/nope: no such directory"),
        new(Llm, "revise-probe-texts-0", ExplainServer("--revise", "1", "--probe-texts", "0", "--model", "{model}"), 2,
            "error: --probe-texts 0: --revise needs at least 1 test text per explanation") { NeedsServer = true },
        new(Llm, "revise-without-model", ExplainServer("--revise", "1"), 2,
            "error: --revise needs the subject model the records came from: give --model M (or --preset P for synthetic weights)") { NeedsServer = true },
        new(Llm, "run-model-without-revise-or-ablation", Run("--base-url", "{server}", "--explainer-model", "explainer-model", "--simulator-model", "simulator-model", "--model", "{model}"), 2,
            "error: --model is read with --revise or --ablation only") { NeedsServer = true },
        new(Llm, "llm-nothing-selected", ExplainServer("--layers", "7"), 2, "error: --layers 7 --neurons all: no neuron records match") { NeedsServer = true },
        new(Llm, "llm-401", ExplainServer(), 2,
            "error: {server} refused a call to model 'explainer-model' with HTTP 401: Incorrect API key provided: sk-catal***test.; check the API key in ENGINE_API_KEY (or OPENAI_API_KEY)")
        {
            NeedsServer = true,
            Setup = c => c.Fixture.Script = _ => new FakeLlmReply.Error(401, "{\"error\":{\"message\":\"Incorrect API key provided: sk-catal***test.\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}"),
            Then = c => c.Fixture.Script = FakeNeuronModel.Reply,
        },
        new(Llm, "llm-echo-refused", Run("--base-url", "{server}", "--explainer-model", "explainer-model", "--simulator-mode", "echo"), 2,
            "error: {server} refused a call to model 'explainer-model' with HTTP 500: Only no echo is supported; the endpoint does not serve OpenAI's echo completions: use --simulator-mode logprobs (or json where it returns no logprobs)")
        {
            NeedsServer = true,
            Setup = c => c.Fixture.Script = r => r.IsCompletion ? LlamaCppShapes.EchoRefusal : FakeNeuronModel.Reply(r),
            Then = c => c.Fixture.Script = FakeNeuronModel.Reply,
        },
        new(Llm, "llm-echo-openai", Run("--base-url", "https://api.openai.com/v1", "--explainer-model", "gpt-4o-mini", "--simulator-mode", "echo"), 2,
            "error: --simulator-mode echo: OpenAI's API allows at most 5 logprobs on /v1/completions and the simulator reads 15 alternatives per position (--top-logprobs, 15 as OpenAI's simulator); use --simulator-mode logprobs (chat top_logprobs go up to 20)"),
        new(Llm, "llm-retries-0", ExplainServer("--retries", "0"), 0) { NeedsServer = true, Then = c => Assert.True(File.Exists(Path.Combine(c.Out, "0", "1.json"))) },
        new(Llm, "llm-some-failed", ExplainServer("--retries", "0"), 1, "  layer 0 neuron 2 (explain): {any}")
        {
            NeedsServer = true,
            // The explainer fails for neuron (0, 2) only (the one whose records make it name its target word).
            Setup = c => c.Fixture.Script = r => r.IsExplainer && FakeNeuronModel.Explain(r.LastUserText) is FakeLlmReply.Completion { Content: var text }
                && text.Contains($"\"{FakeNeuronModel.TargetOf(0, 2).Trim()}\"", StringComparison.Ordinal) ? new FakeLlmReply.Error(500) : FakeNeuronModel.Reply(r),
            Then = c => c.Fixture.Script = FakeNeuronModel.Reply,
        },
        new(Llm, "llm-budget", ExplainServer("--max-calls", "1", "--concurrency", "1"), 3,
            "stopped: --max-calls 1 reached; rerun the same command to continue (calls already made are cached and free)") { NeedsServer = true },
        new(Llm, "simulate-old-name-warns", ["simulate", "--records", "{records}", "--explanations", "{case}/nope", "--out", "{out}", "--base-url", "{server}", "--simulator-model", "m", "--no-cache"], 2,
            "warning: `simulate --explanations` is now `--explainer-output`; the old name will go away", "error: --explainer-output {case}/nope: no such directory") { NeedsServer = true },
    ];

    // Root may still be refused a mount (a container without CAP_SYS_ADMIN): the case is skipped with mount's reason, or
    // fails under ENGINE_REQUIRE_TMPFS=1 (CI, which runs as root).
    private static void MountSmall(CatalogueContext c, string size)
    {
        string? path = c.Fixture.Mount(c.Case.Name, size, out string? reason);
        if (path is null) RequiredTool.Missing("tmpfs", reason ?? "no tmpfs");
        Directory.CreateSymbolicLink(c["small"], path);
    }

    private static void RequireReadOnlyMount(CatalogueContext c)
    {
        if (c.Fixture.ReadOnlyMount is null) RequiredTool.Missing("tmpfs", c.Fixture.ReadOnlyReason ?? "no read-only tmpfs");
    }

    /// <summary>
    /// A records run into {out} that stops after its first checkpoint and waits (holding the lock) until killed or
    /// cancelled. The context owns the process: it is killed when the case ends, passed or failed.
    /// </summary>
    private static Process StartHolder(CatalogueContext c)
    {
        var p = c.StartWith(new() { [EnvironmentHooks.HoldAfterCheckpointsVariable] = "1" }, RecordsTo("--checkpoint-windows", "4", "--batch", "4"));
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(c.Out, RecordsCheckpoint.FileName)))
        {
            if (p.HasExited) Assert.Fail($"the holding run ended: {p.StandardError.ReadToEnd()}");
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail("the holding run wrote no checkpoint in 60 s");
            Thread.Sleep(50);
        }
        return p;
    }

    public static TheoryData<string> Names(string group) => [.. All.Where(c => c.Group == group).Select(c => c.Name)];

    public static void Check(CatalogueFixture fixture, string name)
    {
        var c = All.Single(x => x.Name == name);
        if (c.NeedsRoot && CatalogueFixture.RootSkipReason is { } reason) RequiredTool.Missing("tmpfs", reason);
        if (c.NeedsServer) fixture.EnsureServer();
        using var context = new CatalogueContext(fixture, c);
        Directory.CreateDirectory(context.Dir);
        c.Setup?.Invoke(context);
        var (exitCode, stdout, stderr) = c.Run is { } run ? run(context) : context.Engine(c.Args);
        string report = $"\n--- exit code {exitCode}; stderr:\n{stderr}--- stdout:\n{stdout}";
        TestContext.Current.TestOutputHelper?.WriteLine($"engine {string.Join(' ', c.Args.Select(context.Expand))}{report}");
        var lines = stderr.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Unhandled exception", StringComparison.Ordinal));
        Assert.True(exitCode == c.ExitCode, $"{name}: exit code {exitCode}, expected {c.ExitCode}{report}");
        Assert.True(lines.Length == c.StdErr.Length, $"{name}: {lines.Length} stderr line(s), expected {c.StdErr.Length}:\n{string.Join("\n", c.StdErr.Select(context.Expand))}{report}");
        for (int i = 0; i < lines.Length; i++)
            Assert.True(context.Pattern(c.StdErr[i]).IsMatch(lines[i]), $"{name}: stderr line {i + 1} is\n  {lines[i]}\nexpected\n  {context.Expand(c.StdErr[i])}{report}");
        c.Then?.Invoke(context);
    }
}

public sealed class ParseErrorCatalogueTests(CatalogueFixture fixture) : IClassFixture<CatalogueFixture>
{
    public static TheoryData<string> Cases => Catalogue.Names("parse");
    [Theory, MemberData(nameof(Cases))] public void Case(string name) => Catalogue.Check(fixture, name);
}

public sealed class ModelErrorCatalogueTests(CatalogueFixture fixture) : IClassFixture<CatalogueFixture>
{
    public static TheoryData<string> Cases => Catalogue.Names("model");
    [Theory, MemberData(nameof(Cases))] public void Case(string name) => Catalogue.Check(fixture, name);
}

public sealed class CorpusErrorCatalogueTests(CatalogueFixture fixture) : IClassFixture<CatalogueFixture>
{
    public static TheoryData<string> Cases => Catalogue.Names("corpus");
    [Theory, MemberData(nameof(Cases))] public void Case(string name) => Catalogue.Check(fixture, name);
}

public sealed class OutputErrorCatalogueTests(CatalogueFixture fixture) : IClassFixture<CatalogueFixture>
{
    public static TheoryData<string> Cases => Catalogue.Names("output");
    [Theory, MemberData(nameof(Cases))] public void Case(string name) => Catalogue.Check(fixture, name);

    /// <summary>The writer reserves every block before it maps the file: a full disk is an exception, not SIGBUS, and leaves nothing.</summary>
    [Fact]
    public void AFullDiskIsAnExceptionBeforeTheMap()
    {
        if (CatalogueFixture.RootSkipReason is { } reason) RequiredTool.Missing("tmpfs", reason);
        string? small = fixture.Mount("writer", "64k", out string? error);
        if (small is null) RequiredTool.Missing("tmpfs", error ?? "no tmpfs");
        var header = NeuronEngine.Format.SafeTensorsHeader.Layout([("x", NeuronEngine.Format.TensorDType.F32, [1 << 18])]);
        var e = Assert.Throws<NeuronEngine.IO.DiskFullException>(() => NeuronEngine.Format.SafeTensorsWriter.Create(Path.Combine(small, "x.safetensors"), header));
        Assert.Matches(@"x\.safetensors: no space left on the device for this 1\.0 MB file \([0-9.]+ kB free\)", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(small));
        using (var w = NeuronEngine.Format.SafeTensorsWriter.Create(Path.Combine(small, "y.safetensors"), NeuronEngine.Format.SafeTensorsHeader.Layout([("y", NeuronEngine.Format.TensorDType.F32, [1024])])))
        {
            w.Span<float>("y").Fill(1);
            w.Commit();
        }
        Assert.Equal(["y.safetensors"], Directory.EnumerateFileSystemEntries(small).Select(Path.GetFileName));
    }

    /// <summary>Without a terminal (logs, CI, Slurm), progress is one line every ENGINE_PROGRESS_SECONDS (10 by default), even while a run stalls.</summary>
    [Fact]
    public void ProgressIsALineEveryFewSecondsWithoutATerminal()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string>
        {
            [ConsoleProgress.IntervalVariable] = "0.2", [EnvironmentHooks.HoldAfterCheckpointsVariable] = "1", ["ENGINE_CACHE"] = dir["cache"],
        };
        var psi = new ProcessStartInfo(EngineProcess.AppHost) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "records", "--model", fixture.Model, "--corpus", fixture.Corpus, "--out", dir["out"], "--device", "cpu", "--seq-len", "8",
                     "--checkpoint-windows", "4", "--batch", "4" }) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var lines = new List<string>();
        try
        {
            // Reads bounded by the deadline (a run that prints nothing must not block the test forever).
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (lines.Count < 3 && ReadLine(p.StandardError, deadline.Token) is { } line) lines.Add(line);
        }
        finally
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        Assert.True(lines.Count == 3, string.Join("\n", lines));
        Assert.All(lines, l => Assert.Matches(@"^records: [0-9,]+/[0-9,]+ windows \([0-9.]+%\), [0-9.,]+ windows/s(, ETA [0-9]+:[0-9]{2}:[0-9]{2})?$", l));
    }

    /// <summary>The next line, or null at the end of the stream or when <paramref name="cancel"/> fires first.</summary>
    private static string? ReadLine(StreamReader reader, CancellationToken cancel)
    {
        try { return reader.ReadLineAsync(cancel).AsTask().GetAwaiter().GetResult(); }
        catch (OperationCanceledException) { return null; }
    }
}

public sealed class ScoreErrorCatalogueTests(CatalogueFixture fixture) : IClassFixture<CatalogueFixture>
{
    public static TheoryData<string> Cases => Catalogue.Names("score");
    [Theory, MemberData(nameof(Cases))] public void Case(string name) => Catalogue.Check(fixture, name);
}

public sealed class LlmErrorCatalogueTests(CatalogueFixture fixture) : IClassFixture<CatalogueFixture>
{
    public static TheoryData<string> Cases => Catalogue.Names("llm");
    [Theory, MemberData(nameof(Cases))] public void Case(string name) => Catalogue.Check(fixture, name);
}
