using System.Text;
using NeuronEngine.Corpus;

namespace NeuronEngine.Probe;

/// <summary>
/// The texts of `engine probe --texts FILE`: `.txt`, one text per line (blank lines skipped; a text cannot hold a
/// newline this way), or `.jsonl`, a "text" field per line as a corpus's (so texts may hold newlines). A file with no
/// texts, an empty "text", or a bad line is a <see cref="CorpusException"/> naming the file and line (exit code 2).
/// </summary>
public static class ProbeTexts
{
    public const string Option = "--texts";

    public static IReadOnlyList<string> Read(string path)
    {
        if (Directory.Exists(path)) throw new CorpusException($"{Option} {path} is a directory, not a .txt or .jsonl file");
        if (!File.Exists(path)) throw new CorpusException($"{Option} {path}: no such file");
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is not (".txt" or ".jsonl"))
            throw new CorpusException($"{Option} {path}: unsupported extension '{extension}' (expected .txt, one text per line, or .jsonl with a \"text\" field)");
        var texts = new List<string>();
        long lineNumber = 0;
        foreach (var line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (extension == ".txt")
            {
                texts.Add(line);
                continue;
            }
            string text = CorpusReader.ReadTextField(path, lineNumber, line, Option);
            if (text.Length == 0) throw new CorpusException($"{Option} {path} line {lineNumber}: \"text\" is empty");
            texts.Add(text);
        }
        if (texts.Count == 0) throw new CorpusException($"{Option} {path}: no texts (every line is blank)");
        return texts;
    }
}
