using System.Diagnostics;
using Engine.Cuda.Native;

namespace Engine.Cuda.Kernels;

/// <summary>
/// One kernel unit compiled by NVRTC to a CUBIN for one real architecture, with ptxas's verbose log read, and
/// what is wrong with it. The engine's standard is strict: no error, no warning, no kernel or callee that
/// spills, and at least one kernel reported (a unit with none means the log was not read).
/// </summary>
/// <param name="Unit">The unit compiled.</param>
/// <param name="Architecture">The compute capability, 90 for sm_90.</param>
/// <param name="Options">The NVRTC options used (<see cref="KernelSource.CubinOptions"/>).</param>
/// <param name="Cubin">The CUBIN (an ELF image); empty when the compile failed.</param>
/// <param name="Log">The program log, read.</param>
/// <param name="Failure">NVRTC's error when the compile failed (its log lines are in <paramref name="Log"/>); null on success.</param>
/// <param name="Elapsed">The compile's wall time.</param>
public sealed record CubinBuild(KernelUnit Unit, int Architecture, IReadOnlyList<string> Options, byte[] Cubin, NvrtcLog Log, string? Failure, TimeSpan Elapsed)
{
    /// <summary>Compiles <paramref name="unit"/> for <c>sm_</c><paramref name="architecture"/>. Needs NVRTC (<see cref="Nvrtc.Toolkit"/>); a compile error is returned, not thrown.</summary>
    public static CubinBuild Compile(KernelUnit unit, int architecture)
    {
        var options = KernelSource.CubinOptions(architecture);
        var clock = Stopwatch.StartNew();
        try
        {
            var output = Nvrtc.Toolkit.Compile(unit.Source, unit.Name, options);
            if (!output.IsCubin) throw new InvalidOperationException($"NVRTC returned PTX, not a CUBIN, for {string.Join(' ', options)}.");
            return new CubinBuild(unit, architecture, options, output.Image, NvrtcLog.Parse(output.Log), null, clock.Elapsed);
        }
        catch (NvrtcCompileException e)
        {
            return new CubinBuild(unit, architecture, options, [], NvrtcLog.Parse(e.Log), $"{e.Function} failed: {e.ErrorName} ({e.Code})", clock.Elapsed);
        }
    }

    /// <summary>The architecture as ptxas names it, <c>sm_90</c>.</summary>
    public string Target => $"sm_{Architecture}";

    /// <summary>Every reason this build is not clean, one line each, naming the unit and the file and line where the log gives them; empty when clean.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        var where = $"{Unit.Name} ({Target})";
        if (Failure is not null) problems.Add($"{where}: {Failure}");
        foreach (var d in Log.Diagnostics) problems.Add($"{where}: {d}");
        foreach (var k in Log.Kernels.Where(k => k.Spills))
            problems.Add($"{where}: kernel {k.Name} spills {k.SpillStores} bytes of stores and {k.SpillLoads} bytes of loads ({k.Registers} registers)");
        foreach (var c in Log.Callees.Where(c => c.Spills))
            problems.Add($"{where}: {c.Name}, called from {c.Kernel}, spills {c.SpillStores} bytes of stores and {c.SpillLoads} bytes of loads");
        if (Failure is null && Log.Kernels.Count == 0)
            problems.Add($"{where}: ptxas reported no kernel: the unit has none, or the log's format was not understood:\n{Log.Text}");
        return problems;
    }
}
