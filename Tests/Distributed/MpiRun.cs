using System.Diagnostics;
using Engine.Tests.Samples;
using Xunit;

namespace Engine.Tests.Distributed;

/// <summary>
/// The built command line started by OpenMPI's <c>mpirun</c> on this machine, as a user launches it:
/// <c>mpirun -np N --oversubscribe dotnet engine.dll ARGS</c>, with <c>OMPI_ALLOW_RUN_AS_ROOT</c> set (CI runs as
/// root). On loopback OpenMPI picks its shared-memory transport by itself; its single-copy mechanism is turned
/// off, since containers without ptrace rights refuse it (this machine accepted it, a CI container may not).
/// </summary>
internal static class MpiRun
{
    public const string Mpirun = "/usr/bin/mpirun";

    /// <summary>Runs <paramref name="args"/> on <paramref name="ranks"/> ranks; kills the whole job after <paramref name="limit"/>.</summary>
    public static (int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed) Run(int ranks, TimeSpan limit, params string[] args) =>
        RunWith([], ranks, limit, args);

    /// <summary>As <see cref="Run"/>, with <paramref name="mpirunOptions"/> given to mpirun.</summary>
    public static (int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed) RunWith(string[] mpirunOptions, int ranks, TimeSpan limit, params string[] args)
    {
        var start = new ProcessStartInfo(Mpirun) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // No single-copy (CMA) transfers between ranks: containers without ptrace rights refuse process_vm_readv.
        foreach (var a in new[] { "--mca", "btl_vader_single_copy_mechanism", "none" }) start.ArgumentList.Add(a);
        foreach (var a in mpirunOptions) start.ArgumentList.Add(a);
        foreach (var a in new[] { "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe", "dotnet", CliBuiltFactAttribute.EngineDll! })
            start.ArgumentList.Add(a);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        start.Environment["ENGINE_NUM_THREADS"] = "1";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, stdout.Result, stderr.Result + $"\n[test: killed after {limit.TotalSeconds} s]", clock.Elapsed);
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result, clock.Elapsed);
    }
}

/// <summary>A fact that needs mpirun (Debian: openmpi-bin libopenmpi3; <c>.ci/run</c> installs them) and the built command line.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    /// <summary>Skips, saying why, when mpirun, libmpi or the command line is missing.</summary>
    public MpiFactAttribute()
    {
        if (!File.Exists(MpiRun.Mpirun)) Skip = "skipped: mpirun is not installed (apt-get install openmpi-bin libopenmpi3; .ci/run installs them)";
        else if (!Engine.Distributed.MpiNative.IsAvailable) Skip = "skipped: libmpi.so.40 cannot be loaded (apt-get install libopenmpi3)";
        else if (CliBuiltFactAttribute.EngineDll is null) Skip = "skipped: Samples/Cli is not built in this configuration (dotnet test Engine.sln builds it)";
    }
}
