using System.ClientModel;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace NeuronEngine.Explain;

/// <summary>
/// What a failed HTTP attempt means, for the gateway's one retry layer: a refusal of the request itself, which no
/// retry can change, or a transient failure worth retrying. Read from the servers' own error paths:
/// <list type="bullet">
/// <item>a 4xx other than 408, 409 and 429 is the request's fault (bad key, unknown model, a parameter out of range —
/// OpenAI's /completions refuses logprobs above 5 with 400);</item>
/// <item>501 is llama.cpp's ERROR_TYPE_NOT_SUPPORTED (tools/server/server-common.cpp, format_error_response);</item>
/// <item>a 5xx whose message says the request is unsupported: llama.cpp turns the std::runtime_error of
/// oaicompat_completion_params_parse into HTTP 500 "server_error", e.g. "Only no echo is supported" for
/// <c>echo: true</c> and "Unsupported param: suffix" — the same on every try;</item>
/// <item>anything else at 408, 409, 429 or 5xx, and no response at all (status 0), is transient.</item>
/// </list>
/// </summary>
internal static partial class LlmFailures
{
    /// <summary>Worth another attempt: 408, 409, 429, 5xx or no response, unless the server refused the request as such.</summary>
    public static bool IsTransient(ClientResultException e) => (e.Status is 0 or 408 or 409 or 429 or >= 500) && !IsRefusal(e);

    /// <summary>The request itself is refused: a retry would get the same answer, and so would every other call of the run.</summary>
    public static bool IsRefusal(ClientResultException e) => e.Status switch
    {
        0 or 408 or 409 or 429 => false,
        >= 400 and < 500 => true,
        501 => true,
        >= 500 => ServerMessage(e) is { } message && UnsupportedRequest().IsMatch(message),
        _ => false,
    };

    /// <summary>
    /// The server's own words: error.message of OpenAI's error body (vLLM, llama.cpp, Ollama's OpenAI layer), a
    /// top-level "message" (older vLLM), "error" as a string (Ollama's native API) or FastAPI's "detail"; null when
    /// the body holds none of them.
    /// </summary>
    public static string? ServerMessage(ClientResultException e)
    {
        string body;
        try
        {
            if (e.GetRawResponse() is not { } response) return null;
            body = response.Content.ToString();
        }
        catch (InvalidOperationException)
        {
            return null; // a response whose content was not buffered
        }
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            if (root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String) return Clean(error.GetString());
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String) return Clean(m.GetString());
            }
            if (root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String) return Clean(message.GetString());
            if (root.TryGetProperty("detail", out var detail))
                return Clean(detail.ValueKind == JsonValueKind.String ? detail.GetString() : detail.GetRawText());
        }
        catch (JsonException)
        {
        }
        return null;
    }

    /// <summary>What a failure says, in one line: the server's message when it gave one, else the SDK's.</summary>
    public static string Message(ClientResultException e) => ServerMessage(e) ?? OneLine(e.Message, e.Status);

    /// <summary>
    /// The SDK's message on one line, without the "HTTP 401 (…)" head that repeats the status: it is
    /// "HTTP 401 (invalid_request_error: invalid_api_key)\n\nIncorrect API key provided: …".
    /// </summary>
    public static string OneLine(string message, int status)
    {
        var parts = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (parts.Count > 1 && parts[0].StartsWith($"HTTP {status}", StringComparison.Ordinal))
        {
            string head = parts[0][$"HTTP {status}".Length..].Trim().Trim('(', ')');
            parts[0] = head;
            if (head.Length == 0) parts.RemoveAt(0);
        }
        return string.Join("; ", parts);
    }

    /// <summary>What to try after a refusal, by status.</summary>
    public static string Hint(int status) => status switch
    {
        401 => $"; check the API key in {ApiKeyVariables}",
        403 => "; the key is not allowed to use this model or endpoint",
        404 => "; check --base-url (it includes /v1) and the model name",
        _ => "",
    };

    private const string ApiKeyVariables = "ENGINE_API_KEY (or OPENAI_API_KEY)";

    /// <summary>One line, at most a few hundred characters: error bodies can carry a whole stack trace.</summary>
    private static string? Clean(string? message)
    {
        if (string.IsNullOrWhiteSpace(message)) return null;
        string line = string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length <= 400 ? line : line[..400] + "…";
    }

    /// <summary>
    /// Messages that refuse the request rather than report a fault: llama.cpp's "Only no echo is supported",
    /// "Unsupported param: …", "… is not supported"; "not implemented".
    /// </summary>
    [GeneratedRegex(@"\bnot supported\b|\bunsupported\b|\bonly no \w+ is supported\b|\bnot implemented\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UnsupportedRequest();
}
