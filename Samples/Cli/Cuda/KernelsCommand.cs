using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Cuda.Kernels;
using Engine.Cuda.Native;
using Spectre.Console;

namespace Engine.Samples.Cli.Cuda;

/// <summary>
/// <c>engine cuda kernels [--arch sm_90|sm_80|all|sm_XY]</c>: compiles every kernel unit the engine embeds
/// (<see cref="KernelUnit.Discover()"/>) to CUBIN with NVRTC and prints each kernel's registers, spills, stack and
/// shared memory as ptxas reports them, then one JSON line with the same figures. Exit code 0 when every unit is
/// clean, 1 when one has an error, a warning or a spill, 2 when NVRTC is missing or the architecture is not one.
/// </summary>
internal static class KernelsCommand
{
    /// <summary>What <c>--arch all</c> means: the architectures CI checks.</summary>
    private static readonly int[] All = [80, 90];

    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = "sm_80, sm_90, another sm_XY, or all (sm_80 and sm_90, what CI checks).", DefaultValueFactory = _ => "all" };
        var command = new Command("kernels", "Compile every embedded CUDA kernel with NVRTC and print its registers, spills, stack and shared memory.") { arch };
        command.SetAction(parse => Run(parse.GetValue(arch)!));
        return command;
    }

    private static int Run(string arch)
    {
        if (Architectures(arch) is not { } architectures)
        {
            Console.Error.WriteLine($"cuda kernels: --arch '{arch}' is not sm_XY (XY at least 50) or all.");
            return 2;
        }
        if (!Nvrtc.Toolkit.IsAvailable)
        {
            Console.Error.WriteLine($"cuda kernels: {Nvrtc.Toolkit.UnavailableReason}; {Nvrtc.InstallHint}.");
            return 2;
        }
        var clock = Stopwatch.StartNew();
        var units = KernelUnit.Discover();
        var builds = units.SelectMany(u => architectures.Select(a => CubinBuild.Compile(u, a))).ToList();
        var seconds = clock.Elapsed.TotalSeconds;
        var (major, minor) = Nvrtc.Toolkit.Version();
        var problems = builds.SelectMany(b => b.Problems()).ToList();
        Print(builds, architectures, $"{major}.{minor}", problems, seconds);
        return problems.Count == 0 ? 0 : 1;
    }

    /// <summary>The compute capabilities <paramref name="arch"/> names, or null when it names none.</summary>
    private static int[]? Architectures(string arch)
    {
        if (arch == "all") return All;
        return arch.StartsWith("sm_", StringComparison.Ordinal) && int.TryParse(arch[3..], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 50 ? [n] : null;
    }

    private static void Print(List<CubinBuild> builds, int[] architectures, string version, List<string> problems, double seconds)
    {
        static string N(int v) => v.ToString(CultureInfo.InvariantCulture);
        var targets = string.Join(", ", architectures.Select(a => $"sm_{a}"));
        AnsiConsole.MarkupLine($"NVRTC {version}: {Markup.Escape(string.Join(' ', KernelSource.CubinOptions(architectures[0])))}{(architectures.Length > 1 ? " (and each other sm_XY)" : "")}");
        // One table per unit keeps each within 80 columns, the width of redirected output.
        foreach (var unit in builds.GroupBy(b => b.Unit.Name))
        {
            var table = new Table().Title(Markup.Escape(unit.Key)).Caption("bytes, except regs; spills: stores/loads; n/a: ptxas did not say")
                .AddColumns("kernel", "arch", "regs", "spills", "stack", "smem", "cmem");
            foreach (var b in unit)
                foreach (var k in b.Log.Kernels.OrderBy(k => k.Name, StringComparer.Ordinal))
                    table.AddRow(Markup.Escape(k.Name), k.Architecture, N(k.Registers),
                        k.Spills ? $"[red]{k.SpillStores}/{k.SpillLoads}[/]" : "0/0", N(k.StackFrame), N(k.SharedMemory), k.ConstantMemory is { } c ? N(c) : "n/a");
            AnsiConsole.Write(table);
            foreach (var b in unit)
                foreach (var c in b.Log.Callees.DistinctBy(c => c.Name))
                    AnsiConsole.MarkupLine($"{b.Target}: {Markup.Escape(c.Name)} is out of line ({c.StackFrame} B stack, spills {c.SpillStores}/{c.SpillLoads})");
        }
        foreach (var p in problems) AnsiConsole.MarkupLine($"[red]problem[/]: {Markup.Escape(p)}");
        var kernels = builds.Sum(b => b.Log.Kernels.Count);
        var units = builds.Select(b => b.Unit.Name).Distinct().Count();
        AnsiConsole.MarkupLine(problems.Count == 0
            ? $"[green]{units} units, {kernels} kernels over {targets}: no error, warning or spill[/] ({seconds:0.0} s)"
            : $"[red]{problems.Count} problems[/] in {units} units over {targets}");
        // One machine-readable line for scripts, with the same figures.
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["nvrtc"] = version,
            ["architectures"] = architectures.Select(a => $"sm_{a}").ToArray(),
            ["units"] = builds.Select(b => b.Unit.Name).Distinct().ToArray(),
            ["kernels"] = builds.SelectMany(b => b.Log.Kernels.OrderBy(k => k.Name, StringComparer.Ordinal).Select(k => new Dictionary<string, object?>
            {
                ["unit"] = b.Unit.Name, ["kernel"] = k.Name, ["arch"] = k.Architecture, ["registers"] = k.Registers,
                ["spill_stores"] = k.SpillStores, ["spill_loads"] = k.SpillLoads, ["stack"] = k.StackFrame,
                ["shared"] = k.SharedMemory, ["constant"] = k.ConstantMemory,
            })).ToArray(),
            ["cubin_bytes"] = builds.ToDictionary(b => $"{b.Unit.Name} {b.Target}", b => b.Cubin.Length),
            ["problems"] = problems,
            ["seconds"] = Math.Round(seconds, 2),
        }));
    }
}
