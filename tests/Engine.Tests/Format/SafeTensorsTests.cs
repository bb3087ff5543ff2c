using System.Buffers.Binary;
using System.Text;
using NeuronEngine.Format;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Format;

public class SafeTensorsTests
{
    private static byte[] Floats(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    /// <summary>Builds a file by hand: 8-byte length, the given header text, then the given data bytes.</summary>
    private static string RawFile(TempDir dir, string headerJson, int dataBytes, ulong? lengthOverride = null)
    {
        var json = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthOverride ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        string path = dir["bad.safetensors"];
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static SafeTensorsFormatException Bad(string path) =>
        Assert.Throws<SafeTensorsFormatException>(() => { using var _ = SafeTensorsFile.Open(path); });

    [Fact]
    public void RoundTripKeepsTensorsMetadataAndDtypes()
    {
        using var dir = new TempDir();
        string path = dir["a.safetensors"];
        var f16 = new[] { (Half)1.5f, (Half)(-2f), (Half)0.25f }.SelectMany(h => BitConverter.GetBytes(h)).ToArray();
        SafeTensorsWriter.WriteAll(path, [
            ("weights", TensorDType.F32, [2, 3], Floats(1, 2, 3, 4, 5, 6)),
            ("ids", TensorDType.I32, [2], BitConverter.GetBytes(7).Concat(BitConverter.GetBytes(-9)).ToArray()),
            ("half", TensorDType.F16, [3], f16),
            ("empty", TensorDType.F32, [0, 4], []),
            ("scalar", TensorDType.F64, [], BitConverter.GetBytes(3.25)),
        ], new Dictionary<string, string> { ["model"] = "gpt2", ["layers"] = "0,1" });
        Assert.False(File.Exists(path + ".tmp"));
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(0, f.DataOffset % 8); // data starts 8-byte aligned
        Assert.Equal("gpt2", f.Metadata["model"]);
        Assert.Equal("0,1", f.Metadata["layers"]);
        Assert.Equal([1f, 2, 3, 4, 5, 6], f.Span<float>("weights").ToArray());
        Assert.Equal([2L, 3], f.Get("weights").Shape);
        Assert.Equal([7, -9], f.Span<int>("ids").ToArray());
        Assert.Equal([1.5f, -2f, 0.25f], f.ReadAsFloat(f.Get("half")));
        Assert.Equal(0, f.Span<float>("empty").Length);
        Assert.Equal(3.25, f.Span<double>("scalar")[0]);
        Assert.Equal(TensorDType.F16, f.Get("half").DType);
    }

    [Fact]
    public void WriterProducesWhatPythonSafetensorsExpects()
    {
        // The exact bytes for one small tensor, as the Python library writes them (header padded with spaces).
        using var dir = new TempDir();
        string path = dir["x.safetensors"];
        SafeTensorsWriter.WriteAll(path, [("x", TensorDType.F32, [2], Floats(1, 2))]);
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Equal("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", header.TrimEnd(' '));
        Assert.Equal(0, (8 + (int)n) % 8);
        Assert.Equal(Floats(1, 2), bytes[(8 + (int)n)..]);
    }

    [Fact]
    public void BF16AndF16ConversionsRoundToNearestEven()
    {
        Assert.Equal(1.0f, FloatConversion.BF16ToFloat(FloatConversion.FloatToBF16(1.0f)));
        // 1 + 2^-8 lies exactly between two bf16 values: ties to even → 1.0; a bit more rounds up.
        Assert.Equal(1.0f, FloatConversion.BF16ToFloat(FloatConversion.FloatToBF16(1f + 1f / 256)));
        Assert.Equal(1f + 1f / 128, FloatConversion.BF16ToFloat(FloatConversion.FloatToBF16(1f + 1f / 256 + 1f / 4096)));
        Assert.True(float.IsNaN(FloatConversion.BF16ToFloat(FloatConversion.FloatToBF16(float.NaN))));
    }

    [Fact]
    public void UncommittedWriterLeavesNoFile()
    {
        using var dir = new TempDir();
        string path = dir["never.safetensors"];
        using (var w = SafeTensorsWriter.Create(path, SafeTensorsHeader.Layout([("x", TensorDType.F32, [4])])))
            w.Span<float>("x")[0] = 1;
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void MissingFileNamesTheFile()
    {
        using var dir = new TempDir();
        var e = Bad(dir["nope.safetensors"]);
        Assert.Contains("nope.safetensors", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void FileShorterThanTheLengthPrefix()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir["bad.safetensors"], [1, 2, 3]);
        Assert.Contains("shorter than the 8-byte header length", Bad(dir["bad.safetensors"]).Message);
    }

    [Fact]
    public void HeaderLengthPastTheEnd()
    {
        using var dir = new TempDir();
        var e = Bad(RawFile(dir, "{}", 0, lengthOverride: 5000));
        Assert.Contains("bad.safetensors", e.Message);
        Assert.Contains("runs past the end", e.Message);
    }

    [Fact]
    public void AbsurdHeaderLength()
    {
        using var dir = new TempDir();
        Assert.Contains("is absurd", Bad(RawFile(dir, "{}", 0, lengthOverride: 1UL << 40)).Message);
    }

    [Fact]
    public void MalformedJson()
    {
        using var dir = new TempDir();
        Assert.Contains("not valid JSON", Bad(RawFile(dir, "{\"x\": {\"dtype\": ", 0)).Message);
    }

    [Fact]
    public void HeaderThatIsNotAnObject()
    {
        using var dir = new TempDir();
        Assert.Contains("not a JSON object", Bad(RawFile(dir, "[1, 2]", 0)).Message);
    }

    [Fact]
    public void UnknownDtype()
    {
        using var dir = new TempDir();
        var e = Bad(RawFile(dir, "{\"w\":{\"dtype\":\"F24\",\"shape\":[1],\"data_offsets\":[0,3]}}", 3));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("unknown dtype 'F24'", e.Message);
    }

    [Fact]
    public void ByteSizeNotMatchingShapeTimesDtype()
    {
        using var dir = new TempDir();
        var e = Bad(RawFile(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("holds 20 bytes but shape [2, 3] of F32 needs 24", e.Message);
    }

    [Fact]
    public void OffsetsOutOfBoundsMeanTruncatedData()
    {
        using var dir = new TempDir();
        var e = Bad(RawFile(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void OverlappingOffsets()
    {
        using var dir = new TempDir();
        var e = Bad(RawFile(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
        Assert.Contains("tensor 'b'", e.Message);
        Assert.Contains("overlap", e.Message);
    }

    [Fact]
    public void GapBetweenTensors()
    {
        using var dir = new TempDir();
        var e = Bad(RawFile(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12));
        Assert.Contains("tensor 'b'", e.Message);
        Assert.Contains("gap", e.Message);
    }

    [Fact]
    public void TrailingBytesAfterTheLastTensor()
    {
        using var dir = new TempDir();
        Assert.Contains("trailing bytes", Bad(RawFile(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9)).Message);
    }

    [Fact]
    public void NegativeShapeOrOffsets()
    {
        using var dir = new TempDir();
        Assert.Contains("not a non-negative integer", Bad(RawFile(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)).Message);
        Assert.Contains("data_offsets", Bad(RawFile(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4)).Message);
    }

    [Fact]
    public void DuplicateTensorName()
    {
        using var dir = new TempDir();
        var e = Bad(RawFile(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8));
        Assert.Contains("appears twice", e.Message);
    }

    [Fact]
    public void MetadataMustBeStrings()
    {
        using var dir = new TempDir();
        Assert.Contains("__metadata__", Bad(RawFile(dir, "{\"__metadata__\":{\"n\":3}}", 0)).Message);
    }

    [Fact]
    public void ViewingWithTheWrongElementTypeIsRefused()
    {
        using var dir = new TempDir();
        string path = dir["a.safetensors"];
        SafeTensorsWriter.WriteAll(path, [("x", TensorDType.F16, [2], new byte[4])]);
        using var f = SafeTensorsFile.Open(path);
        var e = Assert.Throws<SafeTensorsFormatException>(() => f.Span<float>("x").Length);
        Assert.Contains("tensor 'x'", e.Message);
        Assert.Contains("not found", Assert.Throws<SafeTensorsFormatException>(() => f.Get("y")).Message);
    }
}
