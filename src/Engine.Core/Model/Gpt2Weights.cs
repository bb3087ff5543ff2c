using System.Collections.Concurrent;
using NeuronEngine.Format;

namespace NeuronEngine.Model;

/// <summary>
/// A Hugging Face GPT-2 checkpoint opened by memory map. Tensors are addressed by their names without the
/// optional <c>transformer.</c> prefix ("h.3.mlp.c_fc.weight"); every one the forward pass needs is checked
/// for presence, float dtype and shape when the model is opened, so later stages can trust them.
/// </summary>
public sealed unsafe class Gpt2Weights : IDisposable
{
    public Gpt2Config Config { get; }
    public SafeTensorsFile File { get; }
    /// <summary>"transformer." when the checkpoint's keys carry it, else "".</summary>
    public string Prefix { get; }
    /// <summary>The storage dtype of the weights (F32, F16 or BF16; mixed files report the dtype of wte).</summary>
    public TensorDType DType { get; }

    private readonly ConcurrentDictionary<string, float[]> _widened = new();

    private Gpt2Weights(Gpt2Config config, SafeTensorsFile file, string prefix)
    {
        Config = config; File = file; Prefix = prefix;
        DType = file.Get(prefix + "wte.weight").DType;
    }

    /// <summary>
    /// Opens a directory holding model.safetensors (+ config.json), or the .safetensors file itself. Every weight is
    /// checked to be finite unless <paramref name="checkValues"/> is false (tests that poison unused layers on purpose).
    /// </summary>
    public static Gpt2Weights Open(string modelPath, bool checkValues = true)
    {
        string file = Directory.Exists(modelPath) ? System.IO.Path.Combine(modelPath, "model.safetensors") : modelPath;
        if (!System.IO.File.Exists(file))
            throw new ModelException(modelPath, Directory.Exists(modelPath)
                ? "directory has no model.safetensors" : "no such model file or directory");
        var st = SafeTensorsFile.Open(file);
        try
        {
            string prefix = st.Header.Find("wte.weight") is not null ? ""
                : st.Header.Find("transformer.wte.weight") is not null ? "transformer."
                : throw new ModelException(file, "no 'wte.weight' (nor 'transformer.wte.weight'): not a GPT-2 checkpoint");
            string configPath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!, "config.json");
            var config = System.IO.File.Exists(configPath) ? Gpt2Config.FromJsonFile(configPath) : InferConfig(st, prefix);
            var weights = new Gpt2Weights(config, st, prefix);
            weights.CheckTensors();
            if (checkValues) weights.CheckValues();
            return weights;
        }
        catch
        {
            st.Dispose();
            throw;
        }
    }

    /// <summary>Without config.json: sizes from the shapes; heads from GPT-2's fixed head size of 64 (or a preset).</summary>
    private static Gpt2Config InferConfig(SafeTensorsFile st, string prefix)
    {
        var wte = st.Get(prefix + "wte.weight");
        var wpe = st.Header.Find(prefix + "wpe.weight") ?? throw new ModelException(st.Path, "missing tensor 'wpe.weight'");
        if (wte.Shape.Length != 2 || wpe.Shape.Length != 2)
            throw new ModelException(st.Path, $"wte.weight {wte.ShapeText} / wpe.weight {wpe.ShapeText} must be 2-D");
        int d = (int)wte.Shape[1];
        int layers = 0;
        while (st.Header.Find($"{prefix}h.{layers}.ln_1.weight") is not null) layers++;
        var preset = Gpt2Config.Presets.Values.FirstOrDefault(p => p.NEmbd == d && p.NLayer == layers);
        int heads = preset?.NHead ?? (d % 64 == 0 ? d / 64
            : throw new ModelException(st.Path, $"no config.json beside it and n_embd {d} is not a multiple of 64: cannot infer n_head"));
        var config = new Gpt2Config(layers, heads, d, (int)wpe.Shape[0], (int)wte.Shape[0]);
        config.Validate(st.Path);
        return config;
    }

    /// <summary>Every tensor the forward pass reads, with the shape GPT-2's Conv1D layout gives it ([in, out]).</summary>
    public static IEnumerable<(string Name, long[] Shape)> ExpectedTensors(Gpt2Config c)
    {
        long d = c.NEmbd;
        yield return ("wte.weight", [c.VocabSize, d]);
        yield return ("wpe.weight", [c.NPositions, d]);
        for (int i = 0; i < c.NLayer; i++)
        {
            string h = $"h.{i}.";
            yield return (h + "ln_1.weight", [d]);
            yield return (h + "ln_1.bias", [d]);
            yield return (h + "attn.c_attn.weight", [d, 3 * d]);
            yield return (h + "attn.c_attn.bias", [3 * d]);
            yield return (h + "attn.c_proj.weight", [d, d]);
            yield return (h + "attn.c_proj.bias", [d]);
            yield return (h + "ln_2.weight", [d]);
            yield return (h + "ln_2.bias", [d]);
            yield return (h + "mlp.c_fc.weight", [d, 4 * d]);
            yield return (h + "mlp.c_fc.bias", [4 * d]);
            yield return (h + "mlp.c_proj.weight", [4 * d, d]);
            yield return (h + "mlp.c_proj.bias", [d]);
        }
        yield return ("ln_f.weight", [d]);
        yield return ("ln_f.bias", [d]);
    }

    private void CheckTensors()
    {
        foreach (var (name, shape) in ExpectedTensors(Config))
        {
            var e = File.Header.Find(Prefix + name)
                ?? throw new ModelException(File.Path, $"missing tensor '{Prefix + name}'");
            if (e.DType is not (TensorDType.F32 or TensorDType.F16 or TensorDType.BF16))
                throw new ModelException(File.Path, $"tensor '{e.Name}' is {e.DType}; weights must be F32, F16 or BF16");
            if (!e.Shape.SequenceEqual(shape))
                throw new ModelException(File.Path, $"tensor '{e.Name}' has shape {e.ShapeText}, expected [{string.Join(", ", shape)}] (config: {Config})");
        }
    }

    /// <summary>
    /// Refuses NaN or ±Inf anywhere in the weights, naming the tensor: they would make every activation downstream NaN,
    /// written as if fine. One vectorised pass over the mapped file (docs/cli.md has its cost: ~0.05 s for gpt2).
    /// </summary>
    private void CheckValues()
    {
        foreach (var (name, _) in ExpectedTensors(Config))
        {
            var e = File.Get(Prefix + name);
            byte* data = File.Pointer(e);
            long at = NonFiniteScan.FirstNonFinite(data, e.ElementCount, e.DType);
            if (at >= 0)
                throw new ModelException(File.Path, $"tensor '{e.Name}' holds {NonFiniteScan.Describe(data, at, e.DType)} (first at element {at} of {e.ElementCount}): the weights are damaged");
        }
    }

    public TensorEntry Entry(string name) => File.Get(Prefix + name);

    /// <summary>Raw pointer to a tensor's bytes in the mapping (for device uploads without a host copy).</summary>
    public byte* Pointer(string name) => File.Pointer(Entry(name));

    /// <summary>
    /// A tensor as float32. F32 tensors are views straight into the mapping; F16/BF16 are widened once and cached.
    /// </summary>
    public ReadOnlySpan<float> Floats(string name)
    {
        var e = Entry(name);
        if (e.DType == TensorDType.F32) return File.Span<float>(e);
        return _widened.GetOrAdd(name, _ => File.ReadAsFloat(e));
    }

    /// <summary>Pointer form of <see cref="Floats"/> (the widened arrays are pinned), valid until Dispose.</summary>
    public float* FloatPointer(string name)
    {
        fixed (float* p = Floats(name)) return p;
    }

    /// <summary>
    /// The tied unembedding in the GEMMs' Conv1D layout: wteᵀ as a new pinned float32 array [d, V] (logits = LN_f(x)·wteᵀ).
    /// 4·d·V bytes (322 MB for gpt2-xl); callers keep it as long as they need it.
    /// </summary>
    public float[] UnembeddingMatrix()
    {
        int d = Config.NEmbd, v = Config.VocabSize;
        var t = GC.AllocateUninitializedArray<float>(checked(d * v), pinned: true);
        float* wte = FloatPointer("wte.weight");
        fixed (float* pt = t)
        {
            float* q = pt;
            Parallel.For(0, d, i => { for (int j = 0; j < v; j++) q[(long)i * v + j] = wte[(long)j * d + i]; });
        }
        return t;
    }

    public void Dispose() => File.Dispose();
}
