using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace NeuronEngine.OpenAi;

/// <summary>
/// The one JSON setup of OpenAI's dataclasses: snake_case keys, "dataclass_name" first (<see cref="OpenAiDataclass"/>),
/// compact, tokens and prose as UTF-8 text rather than \u escapes (as orjson writes them), NaN and ±∞ as null, and lone
/// UTF-16 surrogates (half a character split by GPT-2's byte-level tokens) kept as Python writes them.
/// </summary>
internal static class OpenAiJson
{
    private static readonly JsonSerializerOptions Options = new(OpenAiJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>How <typeparamref name="T"/> (one of OpenAI's top-level dataclasses) is read and written.</summary>
    public static JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
}

/// <summary>Reads null as NaN and writes NaN (and ±∞, which JSON cannot hold) as null.</summary>
internal sealed class NanAsNullDoubleConverter : JsonConverter<double>
{
    public override bool HandleNull => true;

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectNullableAnnotations = true,
    Converters = [typeof(NanAsNullDoubleConverter), typeof(LoneSurrogateTolerantStringConverter)])]
[JsonSerializable(typeof(NeuronRecord))]
[JsonSerializable(typeof(NeuronSimulationResults))]
[JsonSerializable(typeof(WeightBasedSummaryOfNeuron))]
[JsonSerializable(typeof(TokenLookupTableSummaryOfNeuron))]
[JsonSerializable(typeof(WeightBasedConnectionsOfNeuron))]
[JsonSerializable(typeof(NeuronAblationSummary))]
internal sealed partial class OpenAiJsonContext : JsonSerializerContext;
