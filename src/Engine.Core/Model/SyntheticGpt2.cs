using NeuronEngine.Format;

namespace NeuronEngine.Model;

/// <summary>
/// Writes a seeded random GPT-2 in the exact Hugging Face layout (model.safetensors + config.json), so tests,
/// benchmarks and the embedded default run without downloading weights. Every tensor is drawn from its own
/// stream keyed by (seed, tensor name, chunk), so the values do not depend on dtype, prefix or thread count.
/// Scales are chosen so activations are O(1) at any width (matrices ~ N(0, 1/fan_in)), which exercises GELU's
/// nonlinearity and LayerNorm the way trained weights do; they are not trained weights.
/// </summary>
internal static unsafe class SyntheticGpt2
{
    public sealed record Options(int Seed = 0, TensorDType DType = TensorDType.F32, bool TransformerPrefix = false, bool IncludeAttentionBuffers = false);

    public static void Write(string directory, Gpt2Config config, Options? options = null)
    {
        options ??= new Options();
        config.Validate("synthetic model");
        Directory.CreateDirectory(directory);
        string prefix = options.TransformerPrefix ? "transformer." : "";
        var tensors = Gpt2Weights.ExpectedTensors(config)
            .Select(t => (Name: prefix + t.Name, options.DType, t.Shape, Logical: t.Name)).ToList();
        if (options.IncludeAttentionBuffers)
        {
            // Hugging Face checkpoints carry these causal-mask buffers; readers must ignore them.
            for (int i = 0; i < config.NLayer; i++)
            {
                tensors.Add(($"{prefix}h.{i}.attn.bias", TensorDType.F32, [1, 1, config.NPositions, config.NPositions], "buffer.bias"));
                tensors.Add(($"{prefix}h.{i}.attn.masked_bias", TensorDType.F32, [], "buffer.masked_bias"));
            }
        }
        var header = SafeTensorsHeader.Layout(tensors.Select(t => (t.Name, t.DType, t.Shape)),
            new Dictionary<string, string> { ["format"] = "pt", ["synthetic"] = $"seed={options.Seed}" });
        using (var writer = SafeTensorsWriter.Create(Path.Combine(directory, "model.safetensors"), header))
        {
            foreach (var t in tensors)
                Fill(writer, t.Name, t.Logical, t.Shape, options.Seed, config);
            writer.Commit();
        }
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJson());
    }

    private const int Chunk = 1 << 20;

    private static void Fill(SafeTensorsWriter writer, string name, string logical, long[] shape, int seed, Gpt2Config c)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        if (logical == "buffer.bias")
        {
            var span = writer.Span<float>(name);
            int p = c.NPositions;
            for (long i = 0; i < n; i++) span[(int)i] = (i % p) <= (i / p % p) ? 1f : 0f;
            return;
        }
        if (logical == "buffer.masked_bias") { writer.Span<float>(name)[0] = -1e4f; return; }
        var (mean, std) = Distribution(logical, c);
        ulong key = Hash(logical) ^ ((ulong)(uint)seed * 0x9E3779B97F4A7C15UL);
        int chunks = (int)((n + Chunk - 1) / Chunk);
        Parallel.For(0, chunks, chunk =>
        {
            long start = (long)chunk * Chunk;
            int len = (int)Math.Min(Chunk, n - start);
            var values = new float[len];
            var rng = new SplitMix64(key + (ulong)chunk * 0xD1B54A32D192ED03UL);
            for (int i = 0; i < len; i++) values[i] = (float)(mean + std * rng.NextGaussian());
            writer.WriteFloats(name, start, values);
        });
    }

    private static (double Mean, double Std) Distribution(string logical, Gpt2Config c)
    {
        string kind = logical[(logical.LastIndexOf('.') + 1)..];
        bool isNorm = logical.Contains("ln_");
        if (logical == "wte.weight") return (0, 0.5);
        if (logical == "wpe.weight") return (0, 0.2);
        if (isNorm) return kind == "weight" ? (1, 0.1) : (0, 0.05);
        if (kind == "bias") return (0, 0.1);
        int fanIn = logical.EndsWith("mlp.c_proj.weight") ? c.DMlp : c.NEmbd;
        return (0, 1 / Math.Sqrt(fanIn));
    }

    private static ulong Hash(string s)
    {
        ulong h = 14695981039346656037UL; // FNV-1a: stable across runs, unlike string.GetHashCode
        foreach (char ch in s) { h ^= ch; h *= 1099511628211UL; }
        return h;
    }

    /// <summary>SplitMix64 with Box–Muller: tiny, fast and identical on every platform and .NET version.</summary>
    private struct SplitMix64(ulong state)
    {
        private ulong _state = state;
        private double? _spare;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public double NextUniform() => ((Next() >> 11) + 0.5) * (1.0 / (1UL << 53));

        public double NextGaussian()
        {
            if (_spare is double s) { _spare = null; return s; }
            double r = Math.Sqrt(-2 * Math.Log(NextUniform())), theta = 2 * Math.PI * NextUniform();
            _spare = r * Math.Sin(theta);
            return r * Math.Cos(theta);
        }
    }
}
