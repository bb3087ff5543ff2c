using System.Security.Cryptography;

namespace NeuronEngine.IO;

/// <summary>Cheap content identities for resume checks: a file's length plus a SHA-256 of its head and tail.</summary>
public static class Fingerprint
{
    private const int Span = 1 << 20;

    /// <summary>"length:sha256(first MiB ‖ last MiB)" — hashing a multi-GB corpus or checkpoint whole would dominate a resume.</summary>
    public static string OfFile(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[Span];
        int n = fs.ReadAtLeast(buffer, Span, throwOnEndOfStream: false);
        sha.AppendData(buffer, 0, n);
        if (fs.Length > Span)
        {
            fs.Position = Math.Max(Span, fs.Length - Span);
            n = fs.ReadAtLeast(buffer, Span, throwOnEndOfStream: false);
            sha.AppendData(buffer, 0, n);
        }
        return $"{fs.Length}:{Convert.ToHexStringLower(sha.GetHashAndReset())}";
    }
}
