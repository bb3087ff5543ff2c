using NeuronEngine.Pass;

namespace NeuronEngine.Records;

/// <summary>`--shard i/N`: the i-th of N equal parts of the corpus windows, [⌊i·S/N⌋, ⌊(i+1)·S/N⌋).</summary>
public readonly record struct ShardSpec(int Index, int Count)
{
    public static readonly ShardSpec Whole = new(0, 1);

    public static ShardSpec Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Whole;
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || !int.TryParse(parts[1], out int n) || n < 1 || i < 0 || i >= n)
            throw new ArgumentException($"--shard: '{text}' is not i/N with 0 ≤ i < N (e.g. 0/4)");
        return new(i, n);
    }

    public WindowRange Range(long totalWindows) =>
        new((long)((Int128)Index * totalWindows / Count), (long)((Int128)(Index + 1) * totalWindows / Count));
}

/// <summary>`engine merge`: combines packed records of disjoint window ranges of one run into that run's result.</summary>
public static class RecordsMerge
{
    public static RecordsManifest Run(IReadOnlyList<string> inputs, string outDir, string layout)
    {
        if (inputs.Count == 0) throw new ArgumentException("--inputs: give at least one records directory");
        if (!RecordsOutput.Layouts.Contains(layout)) throw new ArgumentException($"--format: '{layout}' is not openai or packed");
        var (first, states, tokens) = RecordsOutput.ReadPacked(inputs[0]);
        if (first.Settings.TokenLookup > 0)
            throw new InvalidDataException($"{RecordsManifest.PathIn(inputs[0])}: records made with --token-lookup, which merge does not carry (it needs the whole corpus in one run)");
        var ranges = new List<WindowRange>(first.Windows);
        foreach (var input in inputs.Skip(1))
        {
            var (m, more, moreTokens) = RecordsOutput.ReadPacked(input);
            if (m.Settings.FirstDifference(first.Settings, $"in {input}", $"in {inputs[0]}") is { } diff)
                throw new InvalidDataException($"{RecordsManifest.PathIn(input)}: records made with other settings than {inputs[0]} ({diff}); merge only the shards of one run");
            foreach (var r in m.Windows)
                if (ranges.FirstOrDefault(o => r.First < o.End && o.First < r.End) is { } clash)
                    throw new InvalidDataException($"{input}: windows {r.First}-{r.End - 1} overlap windows {clash.First}-{clash.End - 1} of another input");
            ranges.AddRange(m.Windows);
            for (int i = 0; i < states.Count; i++) states[i].MergeFrom(more[i]);
            foreach (var (w, t) in moreTokens) tokens.TryAdd(w, t);
        }
        // Keep only the token rows the merged selections still refer to.
        var used = states.SelectMany(OpenAiRecords.Windows).ToHashSet();
        var table = tokens.Where(kv => used.Contains(kv.Key)).ToDictionary();
        var manifest = new RecordsManifest { Layout = layout, Settings = first.Settings, Windows = Coalesce(ranges) };
        if (RecordsOutput.PrepareDirectory(outDir, manifest)) return manifest;
        RecordsOutput.Write(outDir, manifest, states, table);
        return manifest;
    }

    private static List<WindowRange> Coalesce(List<WindowRange> ranges)
    {
        var result = new List<WindowRange>();
        foreach (var r in ranges.OrderBy(r => r.First))
        {
            if (result.Count > 0 && result[^1].End == r.First) result[^1] = result[^1] with { End = r.End };
            else result.Add(r);
        }
        return result;
    }
}
