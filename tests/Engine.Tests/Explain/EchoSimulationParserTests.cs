using NeuronEngine.Explain;

namespace NeuronEngine.Tests.Explain;

/// <summary>Echo replies read as OpenAI's parse_simulation_response reads them.</summary>
public class EchoSimulationParserTests
{
    private static readonly (string, double)[] Nothing = [];

    /// <summary>
    /// An echoed prompt: the tokens, each with its top logprobs (probabilities here); the text is what they spell (an
    /// OpenAI "bytes:\xNN" token spells its byte).
    /// </summary>
    private static LlmReply Echo(params (string Token, (string Token, double P)[] Top)[] tokens)
    {
        var bytes = tokens.SelectMany(t => t.Token.StartsWith("bytes:", StringComparison.Ordinal)
            ? System.Text.RegularExpressions.Regex.Matches(t.Token, @"\\x([0-9a-f]{2})").Select(m => Convert.ToByte(m.Groups[1].Value, 16))
            : System.Text.Encoding.UTF8.GetBytes(t.Token)).ToArray();
        return new LlmReply(System.Text.Encoding.UTF8.GetString(bytes),
            tokens.Select(t => new LlmTokenLogprob(t.Token, 0, t.Top.Select(a => new LlmTopLogprob(a.Token, Math.Log(a.P))).ToArray())).ToArray(), 10, 0);
    }

    /// <summary>"…Activations: \n&lt;start&gt;\n" then, per line, the token pieces, "\t", "unknown" (with its top logprobs), "\n"; then "&lt;end&gt;".</summary>
    private static LlmReply Block(params (string[] Pieces, (string, double)[] Top)[] lines)
    {
        var tokens = new List<(string, (string, double)[])> { ("Activations:", Nothing), (" ", Nothing), ("\n", Nothing), ("<", Nothing), ("start", Nothing), (">\n", Nothing) };
        foreach (var (pieces, top) in lines)
        {
            tokens.AddRange(pieces.Select(p => (p, Nothing)));
            tokens.Add(("\t", Nothing));
            tokens.Add(("unknown", top));
            tokens.Add(("\n", Nothing));
        }
        tokens.AddRange([("<", Nothing), ("end", Nothing), (">\n", Nothing)]);
        return Echo([.. tokens]);
    }

    [Fact]
    public void ExpectedValueOverExactlyTheTokensZeroToTenInTheirOrder()
    {
        var parse = EchoSimulationParser.Parse([" cat", " sat"], Block(
            ([" cat"], [("8", 0.5), (" 9", 0.1), ("6", 0.2), ("unknown", 0.1), ("08", 0.05), ("11", 0.05)]),
            ([" sat"], [("0", 0.9), ("10", 0.1)])));
        Assert.Null(parse.Failure);
        var s = parse.Simulation!;
        Assert.Equal((8 * 0.5 + 6 * 0.2) / 0.7, s.ExpectedActivations[0], 12);
        Assert.Equal([8.0, 6.0], s.DistributionValues![0]); // as the top logprobs listed them, as OpenAI's OrderedDict keeps them
        Assert.Equal(0.5 / 0.7, s.DistributionProbabilities![0][0], 12);
        Assert.Equal(1.0, s.ExpectedActivations[1], 12);
        Assert.Equal(0, parse.PositionsWithoutNumericAlternative);
        Assert.Equal(SimulationReplyParser.NormalizedScale, s.ActivationScale);
    }

    [Fact]
    public void APositionWithoutANumericAlternativeIsZeroAndCounted()
    {
        var parse = EchoSimulationParser.Parse([" cat", " sat"], Block(([" cat"], [("unknown", 0.9), (" 1", 0.1)]), ([" sat"], [("3", 1.0)])));
        Assert.Null(parse.Failure);
        Assert.Equal([0.0, 3.0], parse.Simulation!.ExpectedActivations);
        Assert.Empty(parse.Simulation.DistributionValues![0]);
        Assert.Equal(1, parse.PositionsWithoutNumericAlternative);
    }

    [Fact]
    public void SplitTokensAndByteTokensAreMergedBackAndAFoldedNewlineGivesZero()
    {
        // " café" in two pieces, "é" as two byte tokens, and the newline token folded with the line end before it.
        var tokens = new List<(string, (string, double)[])> { ("x", Nothing), ("<", Nothing), ("start", Nothing), (">\n", Nothing) };
        tokens.AddRange([(" ca", Nothing), ("fé", Nothing), ("\t", Nothing), ("unknown", [("4", 1.0)]), ("\n", Nothing)]);
        tokens.AddRange([("bytes:\\xc3", Nothing), ("bytes:\\xa9", Nothing), ("\t", Nothing), ("unknown", [("2", 1.0)])]);
        tokens.AddRange([("\n\n", Nothing), ("\t", Nothing), ("unknown", [("9", 1.0)]), ("\n", Nothing), ("<", Nothing), ("end", Nothing), (">", Nothing)]);
        var parse = EchoSimulationParser.Parse([" café", "é", "\n"], Echo([.. tokens]));
        Assert.Null(parse.Failure);
        Assert.Equal([4.0, 2.0, 0.0], parse.Simulation!.ExpectedActivations);
        Assert.Empty(parse.Simulation.DistributionValues![2]);
        Assert.Equal(1, parse.PositionsWithoutNumericAlternative);
    }

    [Fact]
    public void OnlyTheLastBlockIsScored()
    {
        var reply = Echo(("a", Nothing), ("<", Nothing), ("start", Nothing), (">\n", Nothing), (" dog", Nothing), ("\t", Nothing), ("unknown", [("5", 1.0)]),
            ("\n", Nothing), ("<", Nothing), ("end", Nothing), (">\n", Nothing), ("<", Nothing), ("start", Nothing), (">\n", Nothing),
            (" cat", Nothing), ("\t", Nothing), ("unknown", [("7", 1.0)]), ("\n", Nothing), ("<", Nothing), ("end", Nothing), (">\n", Nothing));
        Assert.Equal([7.0], EchoSimulationParser.Parse([" cat"], reply).Simulation!.ExpectedActivations);
    }

    [Theory]
    [InlineData(" dog", "token 0: expected ' cat' before its tab, the echoed prompt has ' dog'")]
    [InlineData("s cat", "expected ' cat' before its tab, the echoed prompt has 's cat'")]
    public void ATokenThatDoesNotMatchFailsTheSequence(string written, string reason) =>
        Assert.Contains(reason, EchoSimulationParser.Parse([" cat"], Block(([written], [("1", 1.0)]))).Failure);

    [Fact]
    public void MissingPositionsOrAMissingEndFailTheSequence()
    {
        Assert.Contains("found 1 of 2 \"unknown\" value positions", EchoSimulationParser.Parse([" cat", " sat"], Block(([" cat"], [("1", 1.0)]))).Failure);
        var noEnd = Echo(("a", Nothing), ("<", Nothing), ("start", Nothing), (">\n", Nothing), (" cat", Nothing), ("\t", Nothing), ("unknown", [("1", 1.0)]),
            ("\n", Nothing), ("more", Nothing), ("text", Nothing));
        Assert.Contains("does not go on with \"<end>\"", EchoSimulationParser.Parse([" cat"], noEnd).Failure);
        Assert.Contains("no prompt tokens with logprobs", EchoSimulationParser.Parse([" cat"], new LlmReply("a\n<start>\n cat\tunknown\n<end>\n", null, 0, 0)).Failure);
        Assert.Contains("does not echo the prompt", EchoSimulationParser.Parse([" cat"], new LlmReply(" The", null, 0, 0)).Failure);
        // A server that echoes the text but gives logprobs for the generated token only (llama.cpp's, ggml-org/llama.cpp#27174).
        var generatedOnly = new LlmReply("a\n<start>\n cat\tunknown\n<end>\nX", [new LlmTokenLogprob("X", -1, [new LlmTopLogprob("X", -1)])], 5, 1);
        Assert.Contains("returns logprobs for generated tokens only", EchoSimulationParser.Parse([" cat"], generatedOnly).Failure);
    }

    [Fact]
    public void TheCompletionsReplyIsReadFromOpenAisLayout()
    {
        const string body = """
            {"choices":[{"text":"ab c","index":0,"logprobs":{"tokens":["ab"," c"],"token_logprobs":[null,-0.5],
             "top_logprobs":[null,{" c":-0.5," d":-1.5}],"text_offset":[0,2]},"finish_reason":"length"}],
             "usage":{"prompt_tokens":2,"completion_tokens":0,"total_tokens":2}}
            """;
        var reply = OpenAiCompletionsApi.ParseReply(body, "m");
        Assert.Equal("ab c", reply.Text);
        Assert.Equal(["ab", " c"], reply.Logprobs!.Select(l => l.Token));
        Assert.Empty(reply.Logprobs![0].Top);
        Assert.Equal([(" c", -0.5), (" d", -1.5)], reply.Logprobs[1].Top.Select(t => (t.Token, t.Logprob)));
        Assert.Equal((2L, 0L), (reply.InputTokens, reply.OutputTokens));
        Assert.Contains("not an OpenAI text completion", Assert.Throws<LlmCallFailedException>(() => OpenAiCompletionsApi.ParseReply("{\"error\":1}", "m")).Message);
        Assert.Equal("""{"model":"m","prompt":"p","max_tokens":0,"echo":true,"logprobs":15,"temperature":0}""",
            System.Text.Encoding.UTF8.GetString(OpenAiCompletionsApi.RequestBody(new LlmCompletionRequest { Model = "m", Prompt = "p" })));
    }
}
