using System.Diagnostics;
using NeuronEngine.Pass;

namespace NeuronEngine.Cli;

/// <summary>
/// The pass hooks of the out-of-process crash tests, read from the environment — here, in the composition root, and
/// nowhere else. Why the environment: those tests must stop the real `engine` executable (SIGKILL it mid-shard or
/// mid-checkpoint and rerun it, or hold it until `scancel` kills it), and under Slurm the only thing that reaches a job
/// unchanged is its environment (sbatch's default --export=ALL); a hidden option would need the shipped sbatch scripts
/// to pass it. Why here: Program.cs reads these variables once and injects the hooks into the commands
/// (<see cref="EngineCli.Build"/>), so the library never looks at ambient state, in-process tests inject hooks
/// directly, and without the variables (every production run) the hooks are <see cref="NoPassHooks"/>.
/// </summary>
internal sealed class EnvironmentHooks : IPassHooks
{
    /// <summary>SIGKILL this process halfway through the shard after this many were written (this run).</summary>
    public const string KillAfterShardsVariable = "ENGINE_TEST_KILL_AFTER_SHARDS";

    /// <summary>SIGKILL this process one batch after writing this many checkpoints.</summary>
    public const string KillAfterCheckpointsVariable = "ENGINE_TEST_KILL_AFTER_CHECKPOINTS";

    /// <summary>After writing this many checkpoints, wait (a run too slow to finish) until cancelled or killed from outside, e.g. by `scancel`.</summary>
    public const string HoldAfterCheckpointsVariable = "ENGINE_TEST_HOLD_AFTER_CHECKPOINTS";

    /// <summary>SIGKILL this process after writing this many records output files.</summary>
    public const string KillAfterRecordFilesVariable = "ENGINE_TEST_KILL_AFTER_RECORD_FILES";

    private readonly int? _killAfterShards, _killAfterCheckpoints, _holdAfterCheckpoints, _killAfterRecordFiles;

    private EnvironmentHooks(int? killAfterShards, int? killAfterCheckpoints, int? holdAfterCheckpoints, int? killAfterRecordFiles)
    {
        _killAfterShards = killAfterShards; _killAfterCheckpoints = killAfterCheckpoints;
        _holdAfterCheckpoints = holdAfterCheckpoints; _killAfterRecordFiles = killAfterRecordFiles;
    }

    /// <summary>The hooks the variables ask for, or none.</summary>
    public static IPassHooks FromEnvironment()
    {
        static int? Read(string name) => int.TryParse(Environment.GetEnvironmentVariable(name), out int n) ? n : null;
        var hooks = new EnvironmentHooks(Read(KillAfterShardsVariable), Read(KillAfterCheckpointsVariable),
            Read(HoldAfterCheckpointsVariable), Read(KillAfterRecordFilesVariable));
        return hooks is { _killAfterShards: null, _killAfterCheckpoints: null, _holdAfterCheckpoints: null, _killAfterRecordFiles: null }
            ? NoPassHooks.Instance : hooks;
    }

    public void AfterBatch(PassPoint p)
    {
        if (p.Commits == _killAfterShards && (p.Window - p.SegmentStart) * 2 >= p.SegmentEnd - p.SegmentStart) Kill();
        if (p.Checkpoints == _killAfterCheckpoints) Kill();
    }

    public void AfterCheckpoint(PassPoint p, CancellationToken cancel)
    {
        if (p.Checkpoints != _holdAfterCheckpoints) return;
        cancel.WaitHandle.WaitOne();
        cancel.ThrowIfCancellationRequested();
    }

    public void AfterOutputFile(int filesWritten)
    {
        if (filesWritten == _killAfterRecordFiles) Kill();
    }

    /// <summary>A real SIGKILL: nothing gets to clean up, as when a node dies.</summary>
    private static void Kill() => Process.GetCurrentProcess().Kill();
}
