using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Model;

public class Gpt2WeightsTests
{
    private static readonly Gpt2Config Tiny = new(2, 2, 16, 12, 30, 1e-6f);

    [Fact]
    public void PresetsHaveGpt2sSizesAndParameterCounts()
    {
        Assert.Equal(124_439_808, Gpt2Config.Preset("gpt2").ParameterCount); // Hugging Face's GPT2Model count
        Assert.Equal((24, 16, 1024), (Gpt2Config.Preset("gpt2-medium").NLayer, Gpt2Config.Preset("gpt2-medium").NHead, Gpt2Config.Preset("gpt2-medium").NEmbd));
        Assert.Equal((36, 20, 1280), (Gpt2Config.Preset("gpt2-large").NLayer, Gpt2Config.Preset("gpt2-large").NHead, Gpt2Config.Preset("gpt2-large").NEmbd));
        Assert.Equal((48, 25, 1600), (Gpt2Config.Preset("gpt2-xl").NLayer, Gpt2Config.Preset("gpt2-xl").NHead, Gpt2Config.Preset("gpt2-xl").NEmbd));
        Assert.Throws<ArgumentException>(() => Gpt2Config.Preset("gpt3"));
    }

    [Theory]
    [InlineData("F32", false)]
    [InlineData("F16", true)]
    [InlineData("BF16", false)]
    public void OpensHuggingFaceLayoutWithConfig(string dtype, bool prefix)
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Tiny, new(DType: Enum.Parse<TensorDType>(dtype), TransformerPrefix: prefix, IncludeAttentionBuffers: true));
        using var w = Gpt2Weights.Open(dir.Path);
        Assert.Equal(Tiny, w.Config);
        Assert.Equal(prefix ? "transformer." : "", w.Prefix);
        Assert.Equal(Enum.Parse<TensorDType>(dtype), w.DType);
        Assert.Equal(16 * 48, w.Floats("h.1.attn.c_attn.weight").Length);
    }

    [Fact]
    public void SyntheticValuesDoNotDependOnDtypeOrPrefix()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        SyntheticGpt2.Write(a.Path, Tiny, new(Seed: 4));
        SyntheticGpt2.Write(b.Path, Tiny, new(Seed: 4, DType: TensorDType.F16, TransformerPrefix: true));
        using var wa = Gpt2Weights.Open(a.Path);
        using var wb = Gpt2Weights.Open(b.Path);
        var fa = wa.Floats("h.0.mlp.c_fc.weight").ToArray();
        var fb = wb.Floats("h.0.mlp.c_fc.weight").ToArray();
        for (int i = 0; i < fa.Length; i++) Assert.Equal((float)(Half)fa[i], fb[i]);
        using var c = new TempDir();
        SyntheticGpt2.Write(c.Path, Tiny, new(Seed: 5));
        using var wc = Gpt2Weights.Open(c.Path);
        Assert.NotEqual(fa, wc.Floats("h.0.mlp.c_fc.weight").ToArray());
    }

    [Fact]
    public void OpensTheFileItselfAndInfersTheConfigWithoutConfigJson()
    {
        using var dir = new TempDir();
        var config = new Gpt2Config(3, 2, 128, 20, 40);
        SyntheticGpt2.Write(dir.Path, config);
        File.Delete(dir["config.json"]);
        using var w = Gpt2Weights.Open(dir["model.safetensors"]);
        Assert.Equal(config, w.Config); // n_head from the head size 64 every GPT-2 uses
    }

    [Fact]
    public void CannotInferHeadsForOddWidthWithoutConfig()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Tiny);
        File.Delete(dir["config.json"]);
        var e = Assert.Throws<ModelException>(() => Gpt2Weights.Open(dir.Path));
        Assert.Contains("cannot infer n_head", e.Message);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Tiny);
        RewriteWithout(dir["model.safetensors"], "h.1.mlp.c_fc.bias", null);
        var e = Assert.Throws<ModelException>(() => Gpt2Weights.Open(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("missing tensor 'h.1.mlp.c_fc.bias'", e.Message);
    }

    [Fact]
    public void MisShapedTensorIsNamed()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Tiny);
        RewriteWithout(dir["model.safetensors"], "h.0.attn.c_proj.weight", ("h.0.attn.c_proj.weight", TensorDType.F32, [16, 17], new byte[16 * 17 * 4]));
        var e = Assert.Throws<ModelException>(() => Gpt2Weights.Open(dir.Path));
        Assert.Contains("'h.0.attn.c_proj.weight' has shape [16, 17], expected [16, 16]", e.Message);
    }

    [Fact]
    public void MissingModelAndBadConfigAreClearErrors()
    {
        using var dir = new TempDir();
        Assert.Contains("no model.safetensors", Assert.Throws<ModelException>(() => Gpt2Weights.Open(dir.Path)).Message);
        SyntheticGpt2.Write(dir.Path, Tiny);
        File.WriteAllText(dir["config.json"], "{\"n_layer\": 2");
        var e = Assert.Throws<ModelException>(() => Gpt2Weights.Open(dir.Path));
        Assert.Contains("config.json", e.Message);
        File.WriteAllText(dir["config.json"], "{\"n_layer\": 2, \"n_head\": 3, \"n_embd\": 16, \"n_positions\": 12, \"vocab_size\": 30}");
        Assert.Contains("not divisible by n_head", Assert.Throws<ModelException>(() => Gpt2Weights.Open(dir.Path)).Message);
    }

    [Theory]
    [InlineData("\"activation_function\": \"relu\"", "activation_function 'relu' is not supported")]
    [InlineData("\"n_inner\": 100", "n_inner 100 is not supported")]
    [InlineData("\"scale_attn_by_inverse_layer_idx\": true", "is not supported")]
    public void UnsupportedGpt2VariantsAreRefused(string setting, string message)
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Tiny);
        File.WriteAllText(dir["config.json"], "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"n_positions\": 12, \"vocab_size\": 30, " + setting + "}");
        Assert.Contains(message, Assert.Throws<ModelException>(() => Gpt2Weights.Open(dir.Path)).Message);
    }

    [Fact]
    public void HuggingFaceConfigWithNullInnerAndGeluNewIsAccepted()
    {
        using var dir = new TempDir();
        SyntheticGpt2.Write(dir.Path, Tiny);
        File.WriteAllText(dir["config.json"], "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"n_positions\": 12, \"n_ctx\": 12, \"vocab_size\": 30, \"n_inner\": null, \"activation_function\": \"gelu_new\", \"layer_norm_epsilon\": 1e-06, \"scale_attn_weights\": true}");
        using var w = Gpt2Weights.Open(dir.Path);
        Assert.Equal(1e-6f, w.Config.LayerNormEpsilon);
    }

    /// <summary>Copies a safetensors file without one tensor, optionally adding a replacement.</summary>
    private static unsafe void RewriteWithout(string path, string drop, (string, TensorDType, long[], byte[])? add)
    {
        var tensors = new List<(string, TensorDType, long[], byte[])>();
        using (var f = SafeTensorsFile.Open(path))
            foreach (var e in f.Entries.Where(e => e.Name != drop))
                tensors.Add((e.Name, e.DType, e.Shape, new ReadOnlySpan<byte>(f.Pointer(e), (int)e.ByteLength).ToArray()));
        if (add is { } a) tensors.Add(a);
        SafeTensorsWriter.WriteAll(path, tensors);
    }
}
