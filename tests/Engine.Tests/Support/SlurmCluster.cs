using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// A real single-node Slurm cluster on localhost for the tests: its own munged
/// (own key and socket), slurmctld and slurmd from Debian's packages, with slurm.conf, state, spool and logs in a
/// temp folder that daemons and clients find through SLURM_CONF, on free ports, so a system Slurm or munge is neither
/// used nor touched. The daemons run in the foreground as children of the test process; <see cref="Dispose"/> stops
/// them by PID, ends what is left of the jobs (processes whose environment holds this cluster's SLURM_CONF) and
/// deletes the folder, whatever happened.
/// </summary>
public sealed class SlurmCluster : IDisposable
{
    /// <summary>What Debian calls the packages (installed by .ci/run when missing).</summary>
    public const string Packages = "slurmctld slurmd slurm-client munge";

    private static readonly string[] Tools = ["munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "squeue", "sinfo", "setpriv"];
    private static readonly HashSet<string> Finished = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"];

    private readonly TempDir dir = new();
    private readonly List<(string Name, Process Process)> daemons = [];
    private readonly Dictionary<string, string> tools;

    /// <summary>The slurm.conf every daemon, client and job of this cluster reads (through SLURM_CONF).</summary>
    public string Conf { get; }

    /// <summary>slurmctld's log: scheduling decisions, e.g. a dependent job cancelled.</summary>
    public string ControllerLog => dir["log/slurmctld.log"];

    /// <summary>
    /// Why no cluster can be started here (null when it can): Slurm needs Linux, root for the daemons (munged then runs
    /// as the munge user) and Debian's packages.
    /// </summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "a Slurm cluster needs Linux";
        if (!Environment.IsPrivilegedProcess) return "not root: slurmctld, slurmd and munged (as the munge user) need root to start";
        var missing = Tools.Where(t => Locate(t) is null).ToArray();
        if (missing.Length > 0) return $"Slurm/munge not installed (missing {string.Join(", ", missing)}): apt-get install --no-install-recommends {Packages}";
        if (!File.ReadLines("/etc/passwd").Any(l => l.StartsWith("munge:", StringComparison.Ordinal))) return "no munge user (the munge package creates it)";
        return null;
    }

    public SlurmCluster()
    {
        if (Unavailable() is { } reason || !OperatingSystem.IsLinux()) throw new InvalidOperationException(Unavailable());
        tools = Tools.ToDictionary(t => t, t => Locate(t)!);
        Conf = dir["slurm.conf"];
        try
        {
            Start();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private void Start()
    {
        // munged checks that every folder above its socket is searchable by all; TempDir makes its folder 0700.
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        foreach (var sub in new[] { "munge", "state", "spool", "log" }) Directory.CreateDirectory(dir[sub]);
        string munge = dir["munge"], key = dir["munge/munge.key"];
        File.WriteAllBytes(key, RandomNumberGenerator.GetBytes(128));
        File.SetUnixFileMode(key, UnixFileMode.UserRead);
        File.SetUnixFileMode(munge, (UnixFileMode)0b111_101_101);
        Tool("/bin/chown", "-R", "munge:munge", munge);
        string socket = dir["munge/munge.socket"];
        StartDaemon("munged", tools["setpriv"], "--reuid=munge", "--regid=munge", "--init-groups", tools["munged"], "--foreground",
            $"--key-file={key}", $"--socket={socket}", $"--pid-file={munge}/munged.pid", $"--log-file={munge}/munged.log", $"--seed-file={munge}/munged.seed");
        WaitFor("munged's socket", TimeSpan.FromSeconds(15), () => File.Exists(socket) ? "" : null);

        string node = Tool(tools["slurmd"], "-C").Split('\n')[0].Trim(); // "NodeName=… CPUs=… RealMemory=…", as slurmd sees this host
        if (!node.StartsWith("NodeName=", StringComparison.Ordinal)) throw new InvalidOperationException($"slurmd -C printed '{node}'");
        string host = node["NodeName=".Length..].Split(' ')[0];
        File.WriteAllText(Conf, $"""
            ClusterName=enginetest
            SlurmctldHost={host}(127.0.0.1)
            SlurmctldPort={FreePort()}
            SlurmdPort={FreePort()}
            AuthType=auth/munge
            CredType=cred/munge
            AuthInfo=socket={socket}
            SlurmUser=root
            SlurmdUser=root
            StateSaveLocation={dir["state"]}
            SlurmdSpoolDir={dir["spool"]}
            SlurmctldPidFile={dir["state/slurmctld.pid"]}
            SlurmdPidFile={dir["spool/slurmd.pid"]}
            SlurmctldLogFile={ControllerLog}
            SlurmdLogFile={dir["log/slurmd.log"]}
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            MpiDefault=none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_Core
            MailProg=/bin/true
            MinJobAge=600
            KillWait=5
            SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
            {node} NodeAddr=127.0.0.1
            PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP

            """);
        StartDaemon("slurmctld", tools["slurmctld"], "-D");
        StartDaemon("slurmd", tools["slurmd"], "-D");
        WaitFor("the node to be idle", TimeSpan.FromSeconds(60), () =>
            Client("sinfo", "--noheader", "--format=%t") is { ExitCode: 0 } r && r.StdOut.Trim() == "idle" ? "" : null);
    }

    /// <summary>The environment for a client (sbatch, submit.sh, …) of this cluster: SLURM_CONF and the tools on PATH.</summary>
    public Dictionary<string, string> ClientEnvironment() => new()
    {
        ["SLURM_CONF"] = Conf,
        ["PATH"] = string.Join(':', tools.Values.Select(Path.GetDirectoryName).Distinct().Append(Environment.GetEnvironmentVariable("PATH"))),
    };

    /// <summary>Runs a client command (sbatch, scontrol, …) against this cluster.</summary>
    public (int ExitCode, string StdOut, string StdErr) Client(string command, params string[] args) => Client(new Dictionary<string, string>(), command, args);

    /// <summary>Runs a client command (sbatch, bash submit.sh, …) against this cluster, with more environment variables.</summary>
    public (int ExitCode, string StdOut, string StdErr) Client(IReadOnlyDictionary<string, string> environment, string command, params string[] args)
    {
        var env = ClientEnvironment();
        foreach (var (k, v) in environment) env[k] = v;
        return Execute(tools.GetValueOrDefault(command, command), env, args);
    }

    /// <summary>One job's (or array task's) line of `scontrol show job`.</summary>
    public sealed record Job(string JobId, string ArrayTaskId, string State, string Reason, string ExitCode, string Line)
    {
        public bool IsFinished => Finished.Contains(State);

        /// <summary>Any other field of the line, e.g. StartTime, EndTime, Dependency.</summary>
        public string Field(string name) => FieldOf(Line, name);
    }

    /// <summary>
    /// The job, or every task of the array job, as the controller sees it now (pending tasks may be listed as one
    /// line, e.g. ArrayTaskId=0-2).
    /// </summary>
    public IReadOnlyList<Job> Jobs(string jobId)
    {
        var r = Client("scontrol", "--oneliner", "show", "job", jobId);
        if (r.ExitCode != 0) throw new InvalidOperationException($"scontrol show job {jobId}: {r.StdErr.Trim()}");
        return [.. r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            string Field(string name) => FieldOf(line, name);
            return new Job(Field("JobId"), Field("ArrayTaskId"), Field("JobState"), Field("Reason"), Field("ExitCode"), line);
        })];
    }

    private static string FieldOf(string line, string name) => Regex.Match(line, $@"(?:^| ){Regex.Escape(name)}=(\S*)") is { Success: true } m ? m.Groups[1].Value : "";

    /// <summary>Waits until the job has finished and returns it.</summary>
    public Job WaitForJob(string jobId, TimeSpan deadline) =>
        WaitFor($"job {jobId} to finish", deadline, () => Jobs(jobId) is [{ IsFinished: true } job] ? job : null);

    /// <summary>Waits until tasks 0…<paramref name="tasks"/>−1 of the array job have all finished; returns them in task order.</summary>
    public Job[] WaitForArray(string arrayJobId, int tasks, TimeSpan deadline) =>
        WaitFor($"the {tasks} tasks of array job {arrayJobId} to finish", deadline, () =>
        {
            var byTask = Jobs(arrayJobId).Where(j => j.IsFinished).ToDictionary(j => j.ArrayTaskId);
            return Enumerable.Range(0, tasks).All(i => byTask.ContainsKey($"{i}")) ? Enumerable.Range(0, tasks).Select(i => byTask[$"{i}"]).ToArray() : null;
        });

    /// <summary>Polls <paramref name="probe"/> until it returns non-null; on timeout fails with the queue and the daemons' logs.</summary>
    public T WaitFor<T>(string what, TimeSpan deadline, Func<T?> probe) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (probe() is { } result) return result;
            if (daemons.FirstOrDefault(d => d.Process.HasExited) is { Process: not null } dead)
                throw new InvalidOperationException($"{dead.Name} exited with code {dead.Process.ExitCode} while waiting for {what}\n{Describe()}");
            if (clock.Elapsed > deadline) throw new TimeoutException($"waited {deadline.TotalSeconds:F0} s for {what}\n{Describe()}");
            Thread.Sleep(200);
        }
    }

    /// <summary>The queue and the ends of the daemons' logs, for failure messages.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        if (daemons.Any(d => d.Name == "slurmctld" && !d.Process.HasExited))
            text.AppendLine("squeue:").AppendLine(Client("squeue", "--all", "--states=all", "--format=%i %j %T %r").StdOut);
        foreach (var log in Directory.EnumerateFiles(dir.Path, "*.log", SearchOption.AllDirectories).Order())
            text.AppendLine($"--- {Path.GetFileName(log)}:").AppendJoin('\n', File.ReadLines(log).TakeLast(15)).AppendLine();
        return text.ToString();
    }

    private void StartDaemon(string name, params string[] command)
    {
        // sh execs the daemon (so the PID is the daemon's) with its output in a log file.
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = true };
        foreach (var a in (string[])["-c", "log=$1; shift; exec \"$@\" >\"$log\" 2>&1", "sh", dir[$"log/{name}.out.log"], .. command]) psi.ArgumentList.Add(a);
        psi.Environment["SLURM_CONF"] = Conf;
        daemons.Add((name, Process.Start(psi)!));
    }

    private static (int ExitCode, string StdOut, string StdErr) Execute(string file, IDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2))) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 2 minutes"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private string Tool(string file, params string[] args)
    {
        var r = Execute(file, new Dictionary<string, string> { ["SLURM_CONF"] = Conf }, args);
        if (r.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {r.ExitCode}: {r.StdErr.Trim()}");
        return r.StdOut;
    }

    private static string? Locate(string tool) => RequiredTool.OnPath(tool);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            if (daemons.Any(d => d.Name == "slurmctld" && !d.Process.HasExited))
            {
                // Cancel what still runs so slurmd ends its job steps, then give it a moment.
                Client("scancel", "--full", $"--user={Environment.UserName}");
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed < TimeSpan.FromSeconds(10) && Client("squeue", "--noheader", "--states=RUNNING,COMPLETING,PENDING").StdOut.Trim().Length > 0)
                    Thread.Sleep(200);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // stopping the daemons below is what matters
        }
        // Stop in reverse order of starting: slurmd, slurmctld, munged; SIGTERM, then SIGKILL after 10 s.
        foreach (var (_, p) in Enumerable.Reverse(daemons))
        {
            if (!p.HasExited) Signal(p.Id, "TERM");
            if (!p.WaitForExit(TimeSpan.FromSeconds(10))) p.Kill();
            p.WaitForExit();
            p.Dispose();
        }
        daemons.Clear();
        // Whatever of the jobs survived slurmd (slurmstepd, job scripts, engines) carries this cluster's SLURM_CONF.
        foreach (int pid in ProcessesOfThisCluster()) Signal(pid, "KILL");
        dir.Dispose();
    }

    private static void Signal(int pid, string signal) => Execute("/bin/sh", new Dictionary<string, string>(), "-c", "kill -s \"$1\" \"$2\" 2>/dev/null", "sh", signal, $"{pid}");

    private List<int> ProcessesOfThisCluster()
    {
        string marker = $"SLURM_CONF={Conf}";
        var found = new List<int>();
        foreach (string proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out int pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(proc, "environ")).Split('\0').Contains(marker)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone already
            }
        }
        return found;
    }
}
