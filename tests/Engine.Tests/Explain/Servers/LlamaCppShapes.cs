namespace NeuronEngine.Tests.Explain.Servers;

/// <summary>
/// What llama.cpp's llama-server sends, as its source writes it (ggml-org/llama.cpp, tools/server/):
/// server-common.cpp oaicompat_completion_params_parse refuses <c>echo: true</c> with
/// std::runtime_error("Only no echo is supported"), which the HTTP layer answers as format_error_response(…,
/// ERROR_TYPE_SERVER): status 500, {"error": {"code": 500, "message": …, "type": "server_error"}}.
/// </summary>
public static class LlamaCppShapes
{
    public static FakeLlmReply.Error EchoRefusal => new(500, """{"error":{"code":500,"message":"Only no echo is supported","type":"server_error"}}""");
}
