namespace NeuronEngine.Scoring;

/// <summary>Tuning of a <see cref="ScoreRunner"/> run.</summary>
public sealed record ScoreRunOptions
{
    /// <summary>
    /// Files loaded, scored and written per step. Bounds memory (a GPT-2 XL run has 307,200 files of tens
    /// of kB each) while keeping batches large enough for a device scorer.
    /// </summary>
    public int FilesPerChunk { get; init; } = 4096;

    /// <summary>Threads for loading and writing files; -1 lets the thread pool decide.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;
}

/// <summary>
/// Re-scores precomputed simulations in OpenAI's layout (DESIGN §6, `engine score`): reads
/// DIR/{layer}/{neuron}.jsonl, recomputes every scored explanation's scores (overall and per sequence)
/// with an <see cref="IBatchScorer"/>, writes OUT/explanations/{layer}/{neuron}.jsonl and OUT/scores.jsonl.
/// A file that cannot be read, parsed, validated or written becomes a failure entry; the rest go on.
/// </summary>
public sealed class ScoreRunner
{
    public const string ScoresFileName = "scores.jsonl";
    public const string ExplanationsFolderName = "explanations";

    private readonly IBatchScorer _scorer;
    private readonly ScoreRunOptions _options;

    public ScoreRunner(IBatchScorer scorer, ScoreRunOptions? options = null)
    {
        _scorer = scorer ?? throw new ArgumentNullException(nameof(scorer));
        _options = options ?? new ScoreRunOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.FilesPerChunk, 1, nameof(options));
    }

    public ScoreRunSummary Run(string explanationsDirectory, string outputDirectory,
        IProgress<ScoreRunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var failures = new List<ScoreFailure>();
        var files = ExplanationsDirectory.Enumerate(explanationsDirectory, failures);
        string rescoredDirectory = Path.Combine(outputDirectory, ExplanationsFolderName);
        var lines = new List<NeuronScoreLine>(files.Count);
        var parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism,
            CancellationToken = cancellationToken,
        };

        for (int first = 0; first < files.Count; first += _options.FilesPerChunk)
        {
            var chunk = files.Skip(first).Take(_options.FilesPerChunk).ToArray();
            var (chunkLines, chunkFailures) = RunChunk(chunk, rescoredDirectory, parallel);
            lines.AddRange(chunkLines);
            failures.AddRange(chunkFailures);
            progress?.Report(new ScoreRunProgress(first + chunk.Length, files.Count));
        }

        string scoresPath = Path.Combine(outputDirectory, ScoresFileName);
        ScoresJsonl.Write(scoresPath, lines); // files are sorted by layer then neuron, so lines are too
        return ScoreRunSummary.From(lines, failures, scoresPath);
    }

    private (IEnumerable<NeuronScoreLine> Lines, IEnumerable<ScoreFailure> Failures) RunChunk(
        NeuronResultsFile[] chunk, string rescoredDirectory, ParallelOptions parallel)
    {
        var loaded = new SimulationResultsReadResult[chunk.Length];
        Parallel.For(0, chunk.Length, parallel, i => loaded[i] = Load(chunk[i]));

        var rescoring = new NeuronRescoring();
        var slots = new NeuronRescoring.Slots[chunk.Length];
        for (int i = 0; i < chunk.Length; i++)
            if (loaded[i].Results is { } results) slots[i] = rescoring.Add(results);
        rescoring.Score(_scorer);

        var lines = new NeuronScoreLine?[chunk.Length];
        var failures = new ScoreFailure?[chunk.Length];
        Parallel.For(0, chunk.Length, parallel, i =>
        {
            if (loaded[i].Results is not { } results)
            {
                failures[i] = loaded[i].ToFailure();
                return;
            }
            var (rescored, line) = rescoring.Apply(results, slots[i], chunk[i].Layer, chunk[i].Neuron);
            string outPath = SimulationResultsFile.PathFor(rescoredDirectory, chunk[i].Layer, chunk[i].Neuron);
            try
            {
                SimulationResultsFile.Write(outPath, rescored);
                lines[i] = line;
                if (line is null) failures[i] = new ScoreFailure(chunk[i].Path, "no scored explanations");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failures[i] = new ScoreFailure(outPath, $"cannot write rescored file: {e.Message}");
            }
        });
        return (lines.OfType<NeuronScoreLine>(), failures.OfType<ScoreFailure>());
    }

    /// <summary>Reads one file and checks that its neuron_id agrees with its place in the layout.</summary>
    private static SimulationResultsReadResult Load(NeuronResultsFile file)
    {
        var read = SimulationResultsFile.Read(file.Path);
        if (read.Results is { NeuronId: var id } && (id.LayerIndex != file.Layer || id.NeuronIndex != file.Neuron))
            return read with
            {
                Results = null,
                FailureReason = $"neuron_id (layer {id.LayerIndex}, neuron {id.NeuronIndex}) does not match the "
                    + $"file's place (layer {file.Layer}, neuron {file.Neuron})",
            };
        return read;
    }
}
