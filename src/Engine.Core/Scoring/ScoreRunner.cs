using NeuronEngine.OpenAi;
namespace NeuronEngine.Scoring;

/// <summary>Tuning of a <see cref="ScoreRunner"/> run.</summary>
public sealed record ScoreRunOptions
{
    /// <summary>
    /// Files loaded, scored and written per step. Bounds memory (a GPT-2 XL run has 307,200 files of tens
    /// of kB each) while keeping batches large enough for a device scorer.
    /// </summary>
    public int FilesPerChunk { get; init; } = 2048;

    /// <summary>
    /// Write a rescored copy of every file (and its sidecar) under OUT/explanations. The CLI leaves it off unless
    /// asked (`--write-results`): scores.jsonl is what most runs want, and the copies cost as much disk as the input.
    /// </summary>
    public bool WriteResults { get; init; } = true;

    /// <summary>Threads for loading and writing files; -1 lets the thread pool decide.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;
}

/// <summary>
/// Re-scores precomputed simulations in OpenAI's layout (docs/design.md §6, `engine score`): reads
/// DIR/{layer}/{neuron}.jsonl and its sidecar when there is one, recomputes every scored explanation's
/// scores (overall and per sequence) with an <see cref="IBatchScorer"/> over the split
/// <see cref="SimulationScoring"/> decides, writes OUT/explanations/{layer}/{neuron}.jsonl (and the
/// sidecar beside it) and OUT/scores.jsonl. A file that cannot be read, parsed, validated or written, or
/// whose sidecar does not belong to it, becomes a failure entry; the rest go on.
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

    /// <param name="ablation">when set, the ablation score of every file is added (scores.jsonl, and the rescored sidecars with WriteResults)</param>
    public ScoreRunSummary Run(string explanationsDirectory, string outputDirectory,
        IProgress<ScoreRunProgress>? progress = null, CancellationToken cancellationToken = default, AblationScoreRun? ablation = null)
    {
        var failures = new List<ScoreFailure>();
        var summary = new ScoreRunSummary.Builder();
        string scoresPath = Path.Combine(outputDirectory, ScoresFileName);
        string? rescoredDirectory = _options.WriteResults ? Path.Combine(outputDirectory, ExplanationsFolderName) : null;
        // Lines are written as their chunk is scored (files come sorted by layer then neuron, so lines do too): memory
        // stays one chunk's whatever the number of files.
        var lines = Score(explanationsDirectory, rescoredDirectory, failures, progress, cancellationToken);
        // The ablation score batches records across neurons, so it takes every line at once; it reads the input's files
        // and adds ablation_score to the rescored sidecars when they are written.
        if (ablation is not null) lines = ablation.Apply(explanationsDirectory, rescoredDirectory, lines.ToList(), failures, cancel: cancellationToken);
        ScoresJsonl.Write(scoresPath, lines
            .Select(line =>
            {
                summary.Add(line);
                return line;
            }));
        return summary.Build(failures, scoresPath);
    }

    /// <summary>
    /// The scores.jsonl lines of every results file in the directory, sorted by layer then neuron, without
    /// writing anything: what `simulate` and `run` put in their scores.jsonl (the same computation as
    /// <see cref="Run"/>). Files that cannot be scored are added to <paramref name="failures"/>.
    /// </summary>
    public IReadOnlyList<NeuronScoreLine> ScoreLines(string explanationsDirectory, ICollection<ScoreFailure> failures,
        CancellationToken cancellationToken = default)
    {
        var found = new List<ScoreFailure>();
        var lines = Score(explanationsDirectory, null, found, null, cancellationToken).ToList();
        foreach (var f in found) failures.Add(f);
        return lines;
    }

    /// <summary>Scores the files chunk by chunk, lazily: each chunk is read, scored (and written) when its lines are asked for.</summary>
    private IEnumerable<NeuronScoreLine> Score(string explanationsDirectory, string? rescoredDirectory, List<ScoreFailure> failures,
        IProgress<ScoreRunProgress>? progress, CancellationToken cancellationToken)
    {
        var layers = SimulationResultsFile.EnumerateByLayer(explanationsDirectory, failures, out int total);
        var parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism,
            CancellationToken = cancellationToken,
        };
        int done = 0;
        foreach (var chunk in layers.SelectMany(layer => layer).Chunk(_options.FilesPerChunk))
        {
            var (chunkLines, chunkFailures) = RunChunk(chunk, rescoredDirectory, parallel);
            failures.AddRange(chunkFailures);
            foreach (var line in chunkLines) yield return line;
            done += chunk.Length;
            progress?.Report(new ScoreRunProgress(done, total));
        }
    }

    // Files read into OpenAI's objects at once: each holds its per-token distributions as arrays (≈ 1 MB of objects for
    // a GPT-2 XL file), so a few hundred keep the object path's memory bounded too.
    private const int ObjectFilesPerBatch = 128;

    private (IEnumerable<NeuronScoreLine> Lines, IEnumerable<ScoreFailure> Failures) RunChunk(
        NeuronFile[] chunk, string? rescoredDirectory, ParallelOptions parallel)
    {
        // Files without a sidecar take the direct path: their bytes scanned into the arrays the scorer needs (and, for a
        // rescored copy, where each stored score sits). The rest, and any file the scan does not accept, are read into
        // OpenAI's objects.
        var lines = new NeuronScoreLine?[chunk.Length];
        var failures = new ScoreFailure?[chunk.Length];
        var scans = new SimulationResultsScan?[chunk.Length];
        bool copies = rescoredDirectory is not null;
        // Writes end with a flush to disk each: more writers than cores, as they mostly wait (NeuronFileLayout.WriteEachNeuron).
        var writing = copies ? new ParallelOptions
        {
            MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism > 0 ? _options.MaxDegreeOfParallelism : Math.Max(8, 2 * Environment.ProcessorCount),
            CancellationToken = parallel.CancellationToken,
        } : parallel;
        try
        {
            Parallel.For(0, chunk.Length, parallel, i => scans[i] = ScannedFiles.TryRead(chunk[i], forCopy: copies));
            var scores = ScannedFiles.Score(scans, _scorer, perSequence: copies);
            Parallel.For(0, chunk.Length, writing, i =>
            {
                if (scans[i] is not { } scan) return;
                var line = ScannedFiles.Line(scan, scores, i, chunk[i]);
                string? problem = copies ? ScannedFiles.WriteCopy(scan, scores, i, chunk[i], SimulationResultsFile.PathFor(rescoredDirectory!, chunk[i].Layer, chunk[i].Neuron)) : null;
                if (problem is null) lines[i] = line;
                else failures[i] = new ScoreFailure(SimulationResultsFile.PathFor(rescoredDirectory!, chunk[i].Layer, chunk[i].Neuron), problem);
            });
        }
        finally
        {
            foreach (var scan in scans) scan?.Dispose();
        }

        var objectFiles = Enumerable.Range(0, chunk.Length).Where(i => scans[i] is null).ToArray();
        foreach (var batch in objectFiles.Chunk(ObjectFilesPerBatch))
            RunObjectBatch(chunk, batch, rescoredDirectory, parallel, writing, lines, failures);
        return (lines.OfType<NeuronScoreLine>(), failures.OfType<ScoreFailure>());
    }

    /// <summary>The object path for the chunk's files <paramref name="indices"/>: OpenAI's records, rescored and written.</summary>
    private void RunObjectBatch(NeuronFile[] chunk, int[] indices, string? rescoredDirectory, ParallelOptions parallel,
        ParallelOptions writing, NeuronScoreLine?[] lines, ScoreFailure?[] failures)
    {
        var loaded = new LoadedResults[indices.Length];
        Parallel.For(0, indices.Length, parallel, k => loaded[k] = Load(chunk[indices[k]]));

        var rescoring = new NeuronRescoring();
        var slots = new NeuronRescoring.Slots[indices.Length];
        for (int k = 0; k < indices.Length; k++)
            if (loaded[k].Results is { } results) slots[k] = rescoring.Add(results, loaded[k].Sidecar);
        rescoring.Score(_scorer);

        Parallel.For(0, indices.Length, rescoredDirectory is null ? parallel : writing, k =>
        {
            int i = indices[k];
            if (loaded[k].Results is not { } results)
            {
                failures[i] = loaded[k].Failure;
                return;
            }
            var (rescored, line) = rescoring.Apply(results, loaded[k].Sidecar, slots[k], chunk[i].Layer, chunk[i].Neuron);
            if (line is null) failures[i] = new ScoreFailure(chunk[i].Path, "no scored explanations");
            if (rescoredDirectory is null)
            {
                lines[i] = line;
                return;
            }
            string outPath = SimulationResultsFile.PathFor(rescoredDirectory, chunk[i].Layer, chunk[i].Neuron);
            try
            {
                // The sidecar first: the results file is what marks the pair complete.
                if (loaded[k].Sidecar is { } sidecar)
                    SimulationSidecarFile.Write(SimulationSidecarFile.PathFor(rescoredDirectory, chunk[i].Layer, chunk[i].Neuron), sidecar);
                SimulationResultsFile.Write(outPath, rescored);
                lines[i] = line;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failures[i] = new ScoreFailure(outPath, $"cannot write rescored file: {e.Message}");
            }
        });
    }

    /// <summary>One input: the results and their sidecar, or why they cannot be scored.</summary>
    private readonly record struct LoadedResults(NeuronSimulationResults? Results, SimulationSidecar? Sidecar, ScoreFailure? Failure);

    /// <summary>
    /// Reads one file, checks that its neuron_id agrees with its place in the layout, and reads the sidecar
    /// beside it, which must describe it.
    /// </summary>
    private static LoadedResults Load(NeuronFile file)
    {
        var read = SimulationResultsFile.Read(file.Path);
        if (read.Results is not { } results) return new(null, null, read.ToFailure());
        if (results.NeuronId.LayerIndex != file.Layer || results.NeuronId.NeuronIndex != file.Neuron)
            return new(null, null, new ScoreFailure(file.Path, $"neuron_id (layer {results.NeuronId.LayerIndex}, neuron {results.NeuronId.NeuronIndex}) "
                + $"does not match the file's place (layer {file.Layer}, neuron {file.Neuron})"));
        string sidecarPath = SimulationSidecarFile.PathBeside(file.Path);
        SimulationSidecar? sidecar;
        try
        {
            sidecar = SimulationSidecarFile.TryRead(sidecarPath);
        }
        catch (InvalidDataException e)
        {
            return new(null, null, new ScoreFailure(sidecarPath, e.Message));
        }
        if (sidecar?.Mismatch(results) is { } mismatch)
            return new(null, null, new ScoreFailure(sidecarPath, $"the sidecar does not belong to {file.Path}: {mismatch}"));
        return new(results, sidecar, null);
    }
}
