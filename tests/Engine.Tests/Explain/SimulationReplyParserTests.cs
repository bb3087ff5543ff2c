using NeuronEngine.Explain;

namespace NeuronEngine.Tests.Explain;

/// <summary>Reading simulator replies: expected values from logprobs, JSON values, and every way a reply fails its sequence.</summary>
public class SimulationReplyParserTests
{
    private static readonly string[] Tokens = [" cat", "\n", "10"];

    private static LlmReply Logprobs(params (string Token, (string Token, double P)[] Top)[] tokens) => new(
        string.Concat(tokens.Select(t => t.Token)),
        tokens.Select(t => new LlmTokenLogprob(t.Token, Math.Log(t.Top.FirstOrDefault(a => a.Token == t.Token).P is > 0 and var p ? p : 1),
            t.Top.Select(a => new LlmTopLogprob(a.Token, Math.Log(a.P))).ToArray())).ToArray(), 0, 0);

    private static (string, (string, double)[]) Sure(string token) => (token, [(token, 1.0)]);

    [Fact]
    public void ExpectedValueFromTheTopLogprobsRenormalisedOverZeroToTen()
    {
        var reply = Logprobs(
            Sure("<start>\n"), Sure(" cat"),
            ("\t8", [("\t8", 0.5), ("\t6", 0.2), ("\tunknown", 0.2), ("\t12", 0.1)]), // value shares its token with the tab
            Sure("\n"), Sure("\n"), Sure("\t"), // the newline token's line, written raw
            ("0", [("0", 0.6), ("1", 0.2), ("x", 0.2)]),
            Sure("\n"), Sure("10"), Sure("\t"),
            ("10", [("10", 0.3), ("2\n", 0.1), ("1", 0.1)]), // "2\n" still reads as 2
            Sure("\n<end>"));
        var parse = SimulationReplyParser.ParseLogprobs(Tokens, reply);
        Assert.Null(parse.Failure);
        var s = parse.Simulation!;
        Assert.Equal(Tokens, s.Tokens);
        Assert.Equal((8 * 0.5 + 6 * 0.2) / 0.7, s.ExpectedActivations[0], 6); // "unknown" and "12" dropped, the rest renormalised
        Assert.Equal(0.2 / 0.8, s.ExpectedActivations[1], 6);
        Assert.Equal((10 * 0.3 + 2 * 0.1 + 1 * 0.1) / 0.5, s.ExpectedActivations[2], 6);
        Assert.Equal([6.0, 8.0], s.DistributionValues![0]);
        Assert.Equal([0.2 / 0.7, 0.5 / 0.7], s.DistributionProbabilities![0].Select(p => Math.Round(p, 9)).ToArray(), new RoundedComparer());
        Assert.Equal(SimulationReplyParser.NormalizedScale, s.ActivationScale);
    }

    [Theory]
    [InlineData(" cat\t1\n\n\t0\n", "expected 3 token lines, got 2")]
    [InlineData(" cat\t1\n<end>\n\n\t0\n", "expected 3 token lines, got 1")]
    [InlineData(" cat\t1\n\n\t0\n10\t0\n11\t0\n", "expected 3 token lines, got more")]
    [InlineData(" dog\t1\n\n\t0\n10\t0\n", "token 0: expected ' cat', got ' dog'")]
    [InlineData(" cat 1\n\n\t0\n10\t0\n", "token 0: expected ' cat', got ' cat 1\\n\\n'")]
    [InlineData(" cat\t1\n\\n\t0\n10\t0\n", "token 1: expected '\\n', got '\\n'")]
    [InlineData(" cat\tzero\n\n\t0\n10\t0\n", "token 0: no value 0-10 among the top logprobs")]
    public void LogprobsRepliesThatDoNotMatchFailTheSequence(string text, string reason)
        => AssertFails(text, reason);

    [Theory]
    [InlineData("<start>\ncat\t1\n\n\t0\n10\t 2\n<end>")] // a dropped leading space, a space before the value
    [InlineData("\n\n cat\t1\n\n\t0\n10\t2")]             // no <start>, leading newlines
    public void LogprobsRepliesAreReadAroundHarmlessDifferences(string text)
    {
        var parse = SimulationReplyParser.ParseLogprobs(Tokens, Logprobs(text.Select(c => Sure(c.ToString())).ToArray()));
        Assert.Null(parse.Failure);
        Assert.Equal([1.0, 0, 2], parse.Simulation!.ExpectedActivations);
    }

    private static void AssertFails(string text, string reason)
    {
        var reply = Logprobs(text.Select(c => Sure(c.ToString())).ToArray());
        var parse = SimulationReplyParser.ParseLogprobs(Tokens, reply);
        Assert.Null(parse.Simulation);
        Assert.Contains(reason, parse.Failure);
    }

    [Fact]
    public void ARepliesWithoutLogprobsPointsToJsonMode() =>
        Assert.Contains("--simulator-mode json", SimulationReplyParser.ParseLogprobs(Tokens, new LlmReply("cat\t1", null, 0, 0)).Failure);

    [Fact]
    public void JsonRepliesGiveIntegerValues()
    {
        var parse = SimulationReplyParser.ParseJson(Tokens,
            new LlmReply("```json\n{\"activations\":[{\"token\":\"cat\",\"activation\":7},{\"token\":\"\\\\n\",\"activation\":0},{\"token\":\"10\",\"activation\":10.0}]}\n```", null, 0, 0));
        Assert.Null(parse.Failure);
        Assert.Equal([7.0, 0, 10], parse.Simulation!.ExpectedActivations);
        Assert.Equal([1.0], parse.Simulation.DistributionProbabilities![0]);
    }

    [Theory]
    [InlineData("not json", "unparseable JSON")]
    [InlineData("{\"values\": []}", "no \"activations\" list")]
    [InlineData("[{\"token\":\" cat\",\"activation\":1}]", "expected 3 tokens, got 1")]
    [InlineData("[{\"token\":\" cat\",\"activation\":1},{\"token\":\"\\n\",\"activation\":2.5},{\"token\":\"10\",\"activation\":0}]", "token 1: activation 2.5 is not an integer 0-10")]
    [InlineData("[{\"token\":\" cat\",\"activation\":11},{\"token\":\"\\n\",\"activation\":2},{\"token\":\"10\",\"activation\":0}]", "token 0: activation 11 is not an integer 0-10")]
    [InlineData("[{\"token\":\" cat\",\"activation\":1},{\"token\":\"x\",\"activation\":2},{\"token\":\"10\",\"activation\":0}]", "token 1: expected '\\n', got 'x'")]
    [InlineData("[{\"token\":\" cat\",\"activation\":\"1\"},{\"token\":\"\\n\",\"activation\":2},{\"token\":\"10\",\"activation\":0}]", "unparseable JSON")]
    public void JsonRepliesThatDoNotMatchFailTheSequence(string text, string reason)
    {
        var parse = SimulationReplyParser.ParseJson(Tokens, new LlmReply(text, null, 0, 0));
        Assert.Null(parse.Simulation);
        Assert.Contains(reason, parse.Failure);
    }

    private sealed class RoundedComparer : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) < 1e-6;
        public int GetHashCode(double obj) => 0;
    }
}
