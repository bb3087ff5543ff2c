using NeuronEngine.Cli;
using NeuronEngine.Format;
using NeuronEngine.Model;
using NeuronEngine.Tests.Explain;
using NeuronEngine.Tests.Support;
using NeuronEngine.Text;

namespace NeuronEngine.Tests.View;

/// <summary>
/// A site built the way a user builds one, from a tiny synthetic GPT-2 (2 layers, d = 16: 64 neurons per layer):
/// `engine records` over a small corpus, `engine related`, `engine connections`, `engine run` against the scripted LLM
/// server for six neurons of each layer, then `engine view`. Built once for the viewer tests (site checks and Chromium).
/// </summary>
public sealed class ViewerSiteFixture : IDisposable
{
    public const int NeuronsPerLayer = 64;
    public static readonly (int Layer, int Neuron)[] Explained = [.. new[] { 0, 1 }.SelectMany(l => Enumerable.Range(0, 6).Select(n => (l, n)))];

    public TempDir Dir { get; } = new();
    public string Model => Dir["model"];
    public string Records => Dir["records"];
    public string PackedRecords => Dir["records-packed"];
    public string Related => Dir["related"];
    public string Connections => Dir["connections"];
    public const int ConnectionsTop = 5;
    public string Results => Dir["run"];
    public string Ablation => Dir["ablation"];
    public string Site => Dir["site"];

    /// <summary>A run with one revision step (`--revise 1`) of two neurons, and its site.</summary>
    public string RevisedResults => Dir["run-revised"];
    public string RevisedSite => Dir["site-revised"];
    public static readonly string[] ProbeFire = ["the herons waded past the reeds", "cold herons and a river"], ProbeNotFire = ["the ducks swam past the boats"];

    public ViewerSiteFixture()
    {
        SyntheticGpt2.Write(Model, new Gpt2Config(2, 2, 16, 16, Gpt2Tokenizer.VocabSize), new(Seed: 21, DType: TensorDType.F32));
        string text = string.Join(" ", Enumerable.Range(0, 30).Select(i => $"Day {i}: the {i % 5} herons waded past {i * 7} reeds <b>and</b> a \"cold\" river.\n"));
        string corpus = Dir.WriteText("corpus.txt", text);
        string[] records = ["records", "--model", Model, "--corpus", corpus, "--seq-len", "12", "--top-k", "8", "--random", "6",
            "--quantile-samples", "2", "--seed", "3", "--pilot-windows", "64", "--device", "cpu", "--token-lookup", "5", "--token-lookup-min-count", "3"];
        Run([.. records, "--out", Records]);
        Run([.. records, "--out", PackedRecords, "--format", "packed"]);
        Run("related", "--model", Model, "--out", Related, "--device", "cpu", "--top", "10", "--format", "both");
        Run("connections", "--model", Model, "--out", Connections, "--device", "cpu", "--top", $"{ConnectionsTop}");
        Run("ablate", "--model", Model, "--corpus", corpus, "--seq-len", "12", "--layers", "1", "--neurons", "2", "--max-windows", "2", "--top", "4",
            "--device", "cpu", "--out", Ablation);
        var server = FakeLlmServer.StartAsync().GetAwaiter().GetResult();
        try
        {
            Run("run", "--records", Records, "--out", Results, "--base-url", server.BaseUrl, "--explainer-model", "explainer-model",
                "--simulator-model", "simulator-model", "--simulator-mode", "json", "--cache", Dir["llm-cache.sqlite"],
                "--examples-per-split", "2", "--layers", "0,1", "--neurons", "0-5", "--retry-delay", "0.01", "--timeout", "20");
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        Run("view", "--records", Records, "--results", Results, "--related", Related, "--connections", Connections, "--ablation", Ablation, "--out", Site, "--title", "Tiny test model");
        var reviser = FakeLlmServer.StartAsync().GetAwaiter().GetResult();
        reviser.Script = r => !r.IsCompletion && r.SystemText == NeuronEngine.Explain.RevisionPrompt.TextsSystemMessage
            ? new FakeLlmReply.Completion(System.Text.Json.JsonSerializer.Serialize(new { should_fire = ProbeFire, should_not_fire = ProbeNotFire }))
            : FakeNeuronModel.Reply(r);
        try
        {
            Run("run", "--records", Records, "--out", RevisedResults, "--base-url", reviser.BaseUrl, "--explainer-model", "explainer-model",
                "--simulator-model", "simulator-model", "--simulator-mode", "json", "--cache", Dir["llm-cache.sqlite"],
                "--examples-per-split", "2", "--layers", "0", "--neurons", "0-1", "--retry-delay", "0.01", "--timeout", "20",
                "--revise", "1", "--probe-texts", "3", "--model", Model, "--device", "cpu");
        }
        finally
        {
            reviser.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        Run("view", "--records", Records, "--results", RevisedResults, "--out", RevisedSite, "--title", "Revised");
    }

    private static void Run(params string[] args)
    {
        int code = EngineCli.Run(args);
        if (code != 0) throw new InvalidOperationException($"engine {string.Join(' ', args)} exited with {code}");
    }

    public void Dispose() => Dir.Dispose();
}

[CollectionDefinition(Name)]
public sealed class ViewerCollection : ICollectionFixture<ViewerSiteFixture>
{
    public const string Name = "viewer site";
}
