using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NeuronEngine.OpenAi;

/// <summary>
/// Strings that may hold half of a UTF-16 surrogate pair. GPT-2's byte-level tokens can split a
/// character, and Python's json writes such a half as "\ud83d"; System.Text.Json refuses to read or write
/// it. This converter keeps the fast path for ordinary strings and unescapes / escapes by hand otherwise,
/// so such a token round-trips instead of failing its whole file.
/// </summary>
internal sealed class LoneSurrogateTolerantStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException) when (reader.TokenType == JsonTokenType.String)
        {
            byte[] raw = reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan.ToArray();
            return Unescape(Encoding.UTF8.GetString(raw));
        }
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        if (!HasLoneSurrogate(value))
        {
            writer.WriteStringValue(value);
            return;
        }
        var json = new StringBuilder(value.Length + 8).Append('"');
        foreach (char c in value)
        {
            if (c == '"' || c == '\\') json.Append('\\').Append(c);
            else if (c < ' ' || char.IsSurrogate(c)) json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else json.Append(c);
        }
        // Validation would reject the lone surrogate escape we are deliberately writing.
        writer.WriteRawValue(json.Append('"').ToString(), skipInputValidation: true);
    }

    private static bool HasLoneSurrogate(string value)
    {
        for (int i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) i++;
            else if (char.IsSurrogate(value[i])) return true;
        }
        return false;
    }

    /// <summary>Decodes the escapes of a JSON string body (the reader has already checked its syntax).</summary>
    private static string Unescape(string body)
    {
        var text = new StringBuilder(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c != '\\') { text.Append(c); continue; }
            char kind = body[++i];
            text.Append(kind switch
            {
                'b' => '\b',
                'f' => '\f',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => (char)int.Parse(body.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture),
                _ => kind, // \" \\ \/
            });
            if (kind == 'u') i += 4;
        }
        return text.ToString();
    }
}
