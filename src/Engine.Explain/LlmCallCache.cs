using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace NeuronEngine.Explain;

/// <summary>
/// Replies already paid for, in a SQLite file, so that a rerun repeats no call. The key is a SHA-256 of
/// the endpoint URL, model, messages and options — never the API key, which is not part of a request's
/// identity and must not reach disk. Each reply is committed as soon as it arrives, so a killed run keeps
/// every call it made.
/// </summary>
public sealed class LlmCallCache : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();

    public string Path { get; }

    public LlmCallCache(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        try
        {
            _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString());
            _connection.Open();
            Execute("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000;");
            Execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT NOT NULL, reply TEXT NOT NULL, "
                + "input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, created_utc TEXT NOT NULL)");
        }
        catch (SqliteException e)
        {
            _connection?.Dispose();
            throw new InvalidDataException($"{Path}: cannot open the LLM call cache: {e.Message}");
        }
    }

    /// <summary>The hex SHA-256 identifying a request sent to <paramref name="endpoint"/>.</summary>
    public static string KeyFor(string endpoint, LlmRequest request)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("endpoint", endpoint.TrimEnd('/'));
            json.WriteString("model", request.Model);
            json.WriteStartArray("messages");
            foreach (var m in request.Messages)
            {
                json.WriteStartObject();
                json.WriteString("role", m.Role.ToString().ToLowerInvariant());
                json.WriteString("text", m.Text);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartObject("options");
            json.WriteNumber("max_output_tokens", request.MaxOutputTokens);
            json.WriteNumber("temperature", request.Temperature);
            if (request.TopLogprobs is int top) json.WriteNumber("top_logprobs", top);
            if (request.JsonSchema is { } schema) json.WriteString("json_schema", schema);
            json.WriteNumber("sample", request.SampleIndex);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    /// <summary>The hex SHA-256 identifying a /completions request sent to <paramref name="endpoint"/> (never equal to a chat request's).</summary>
    public static string KeyFor(string endpoint, LlmCompletionRequest request)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("endpoint", endpoint.TrimEnd('/'));
            json.WriteString("api", "completions");
            json.WriteString("model", request.Model);
            json.WriteString("prompt", request.Prompt);
            json.WriteStartObject("options");
            json.WriteNumber("max_tokens", request.MaxTokens);
            json.WriteBoolean("echo", request.Echo);
            json.WriteNumber("logprobs", request.Logprobs);
            json.WriteNumber("temperature", request.Temperature);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    public LlmReply? TryGet(string key)
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT reply FROM calls WHERE key = $key";
            command.Parameters.AddWithValue("$key", key);
            if (command.ExecuteScalar() is not string json) return null;
            try
            {
                return JsonSerializer.Deserialize(json, ExplainJsonContext.Default.LlmReply);
            }
            catch (JsonException)
            {
                return null; // a damaged entry is refetched and overwritten
            }
        }
    }

    public void Put(string key, string model, LlmReply reply)
    {
        string json = JsonSerializer.Serialize(reply, ExplainJsonContext.Default.LlmReply);
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT OR REPLACE INTO calls (key, model, reply, input_tokens, output_tokens, created_utc) "
                + "VALUES ($key, $model, $reply, $in, $out, $at)";
            command.Parameters.AddWithValue("$key", key);
            command.Parameters.AddWithValue("$model", model);
            command.Parameters.AddWithValue("$reply", json);
            command.Parameters.AddWithValue("$in", reply.InputTokens);
            command.Parameters.AddWithValue("$out", reply.OutputTokens);
            command.Parameters.AddWithValue("$at", DateTime.UtcNow.ToString("O"));
            command.ExecuteNonQuery();
        }
    }


    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        lock (_lock) _connection.Dispose();
    }
}
