using System.Text;

namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>
/// One token as a server saw it: its bytes, its logprob, and the other tokens likely at its position (bytes,
/// logprob), most likely first. A server writes the token itself first among its top logprobs, then these.
/// </summary>
public sealed record ServerToken(byte[] Bytes, double Logprob, (byte[] Bytes, double Logprob)[] Others);

/// <summary>
/// The fake model's answer (<see cref="FakeNeuronModel"/>: pieces of text, each with its top alternatives) cut into a
/// server's tokens: every piece re-tokenized with <see cref="ServerTokenizer"/>; a piece that is a value position
/// keeps its alternatives on its first token, the others are certain of themselves.
/// </summary>
public static class ServerTokens
{
    public static List<ServerToken> From(IEnumerable<(string Piece, (string Text, double Logprob)[] Top)> pieces, TokenizerKind kind)
    {
        var tokens = new List<ServerToken>();
        foreach (var (piece, top) in pieces)
        {
            var cut = ServerTokenizer.Tokenize(piece, kind);
            bool valuePosition = top.Any(a => a.Text != piece);
            for (int k = 0; k < cut.Count; k++)
            {
                if (!(valuePosition && k == 0)) { tokens.Add(new ServerToken(cut[k], 0, [])); continue; }
                double own = top.FirstOrDefault(a => a.Text == piece) is { Text: not null } self ? self.Logprob : Math.Log(1e-4);
                tokens.Add(new ServerToken(cut[k], own, top.Where(a => a.Text != piece).Select(a => (Encoding.UTF8.GetBytes(a.Text), a.Logprob)).ToArray()));
            }
        }
        return tokens;
    }

    /// <summary>An echo reply's tokens: the prompt as <see cref="FakeNeuronModel.SimulateEcho"/> answers it.</summary>
    public static List<ServerToken> Echo(string prompt, TokenizerKind kind) =>
        From(((FakeLlmReply.Echo)FakeNeuronModel.SimulateEcho(prompt)).Tokens, kind);

    /// <summary>A chat reply's tokens (logprobs mode): the fake model's answer.</summary>
    public static List<ServerToken> Chat(FakeLlmReply.Completion completion, TokenizerKind kind) =>
        From(completion.Logprobs!.Select(l => (l.Token, l.Top)), kind);
}
