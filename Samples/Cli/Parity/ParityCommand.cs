using System.CommandLine;
using System.Globalization;
using Engine.Models.Parity;
using Spectre.Console;

namespace Engine.Samples.Cli.Parity;

/// <summary>
/// <c>engine parity --golden FILE|DIR ...</c>: rebuilds each golden's model from its metadata, runs forward and
/// backward on the golden input on the chosen device, and prints the largest relative error of the output,
/// the input gradient, the parameter gradients and the buffers after the step. One file gives its table and a
/// JSON line; several files, or folders (every <c>*.safetensors</c> below them), give one row per golden and
/// a JSON summary, all in one process (on a GPU, the kernels compile once). Exit code 0 when every golden is
/// within tolerance, 1 when one is above it, 2 when one cannot be run at all.
/// </summary>
internal static class ParityCommand
{
    public static Command Create()
    {
        var golden = new Option<string[]>("--golden")
        {
            Description = "Golden safetensors files written by a reference implementation, or folders of them.",
            Required = true, AllowMultipleArgumentsPerToken = true,
        };
        var device = new Option<string>("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
        device.AcceptOnlyFromAmong("cpu", "cuda");
        var dtype = new Option<string>("--dtype") { Description = "f64 or f32.", DefaultValueFactory = _ => "f64" };
        dtype.AcceptOnlyFromAmong("f64", "f32");
        var tolerance = new Option<double?>("--tolerance") { Description = "Largest relative error accepted (default 1e-9 in f64, 1e-4 in f32)." };
        var command = new Command("parity", "Check a backbone against golden files of its reference implementation.") { golden, device, dtype, tolerance };
        command.SetAction(parse => Run(parse.GetValue(golden)!, parse.GetValue(device)!, parse.GetValue(dtype) == "f32" ? DType.F32 : DType.F64, parse.GetValue(tolerance)));
        return command;
    }

    /// <summary>The files named, with each folder replaced by the safetensors files below it (in path order).</summary>
    private static List<string> Expand(IEnumerable<string> paths) =>
        paths.SelectMany<string, string>(p => Directory.Exists(p)
            ? Directory.EnumerateFiles(p, "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            : [p]).ToList();

    private static int Run(string[] paths, string device, DType dtype, double? tolerance)
    {
        if (device == "cuda" && !Engine.Backends.Devices.CudaAvailable)
        {
            Console.Error.WriteLine("parity: --device cuda asked for, but no CUDA device is available on this machine.");
            return 2;
        }
        var files = Expand(paths);
        if (files.Count == 0)
        {
            Console.Error.WriteLine($"parity: no golden files in {string.Join(", ", paths)}.");
            return 2;
        }
        var on = device == "cuda" ? Device.Cuda(0) : Device.Cpu;
        var tol = tolerance ?? ParityReport.DefaultTolerance(dtype);
        if (files.Count == 1)
        {
            var report = RunOne(files[0], dtype, on, out var error);
            if (report is null) { Console.Error.WriteLine(error); return 2; }
            Print(report, tol);
            return report.Passed(tol) ? 0 : 1;
        }
        return RunMany(files, dtype, on, tol);
    }

    /// <summary>The report of one golden, or null and why it could not be run.</summary>
    private static ParityReport? RunOne(string path, DType dtype, Device on, out string? error)
    {
        error = null;
        try
        {
            using var golden = GoldenCase.Load(path);
            return ParityRunner.Run(golden, dtype, on);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or KeyNotFoundException)
        {
            error = e.Message;
            return null;
        }
    }

    /// <summary>The deepest folder holding every file, so that the table shows short names.</summary>
    private static string CommonFolder(List<string> files)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(files[0])) ?? "/";
        while (!files.All(f => Path.GetFullPath(f).StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
            folder = Path.GetDirectoryName(folder) ?? "/";
        return folder;
    }

    private static int RunMany(List<string> files, DType dtype, Device on, double tolerance)
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;       // a log or a pipe: keep one row per golden
        AnsiConsole.MarkupLine($"parity: {files.Count} goldens ({dtype}, {on}: {Markup.Escape(ParityRunner.DeviceName(on))}), tolerance {tolerance.ToString("E0", CultureInfo.InvariantCulture)}");
        var table = new Table().AddColumns(["golden", "model", .. ParityReport.Groups, "verdict"]);
        var results = new List<object>();
        int passed = 0, failed = 0, broken = 0;
        var worstOverall = new Dictionary<string, double>();
        string root = CommonFolder(files);
        foreach (var path in files)
        {
            string name = Markup.Escape(Path.GetRelativePath(root, path).Replace(".safetensors", "", StringComparison.Ordinal));
            var report = RunOne(path, dtype, on, out var error);
            if (report is null)
            {
                broken++;
                table.AddRow([name, "", .. ParityReport.Groups.Select(_ => ""), "[red]cannot run[/]"]);
                AnsiConsole.MarkupLine($"[red]cannot run[/] {Markup.Escape(path)}: {Markup.Escape(error!)}");
                results.Add(new { golden = path, passed = false, error });
                continue;
            }
            bool ok = report.Passed(tolerance);
            if (ok) passed++; else failed++;
            var worst = ParityReport.Groups.Where(g => report.Worst(g) is not null).ToDictionary(g => g, g => report.Worst(g)!.Error);
            foreach (var (g, e) in worst) worstOverall[g] = Math.Max(worstOverall.GetValueOrDefault(g), e);
            table.AddRow([name, Markup.Escape(report.Model),
                .. ParityReport.Groups.Select(g => worst.TryGetValue(g, out var e) ? e.ToString("E2", CultureInfo.InvariantCulture) : "-"),
                ok ? "[green]ok[/]" : "[red]FAIL[/]"]);
            results.Add(new { golden = path, model = report.Model, passed = ok, worst });
        }
        AnsiConsole.Write(table);
        bool all = failed == 0 && broken == 0;
        AnsiConsole.MarkupLine(all ? "[green]passed[/]" : "[red]failed[/]");
        string summary = $"{passed}/{files.Count} goldens pass in {dtype} on {ParityRunner.DeviceName(on)}" +
            (worstOverall.Count > 0 ? $", worst {worstOverall.Values.Max().ToString("E1", CultureInfo.InvariantCulture)}" : "") +
            (failed > 0 ? $", {failed} above {tolerance:E0}" : "") + (broken > 0 ? $", {broken} cannot run" : "");
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
        {
            goldens = files.Count, dtype = dtype.ToString(), device = on.ToString(), device_name = ParityRunner.DeviceName(on), tolerance,
            passed = all, summary, worst = worstOverall, results,
        }));
        return broken > 0 ? 2 : failed > 0 ? 1 : 0;
    }

    private static void Print(ParityReport report, double tolerance)
    {
        AnsiConsole.MarkupLine($"parity: [bold]{Markup.Escape(report.Model)}[/] ({report.DType}, {report.Device}: {Markup.Escape(report.DeviceName)}) against {Markup.Escape(report.Golden)}");
        var table = new Table().AddColumns("group", "tensors", "largest error", "where", "tolerance", "verdict");
        foreach (var group in ParityReport.Groups)
        {
            var entries = report.Entries.Where(e => e.Group == group).ToList();
            if (entries.Count == 0) continue;
            var worst = entries.MaxBy(e => e.Error)!;
            var ok = entries.All(e => e.Problem is null && e.Error <= tolerance);
            table.AddRow(group, entries.Count.ToString(CultureInfo.InvariantCulture),
                worst.Error.ToString("E2", CultureInfo.InvariantCulture) + (worst.Absolute ? " abs" : ""),
                Markup.Escape(worst.Key), tolerance.ToString("E0", CultureInfo.InvariantCulture), ok ? "[green]ok[/]" : "[red]FAIL[/]");
        }
        AnsiConsole.Write(table);
        foreach (var e in report.Entries.Where(e => e.Problem is not null))
            AnsiConsole.MarkupLine($"[red]problem[/]: {e.Group} {Markup.Escape(e.Key)}: {Markup.Escape(e.Problem!)}");
        AnsiConsole.MarkupLine(report.Passed(tolerance) ? "[green]passed[/]" : "[red]failed[/]");
        // One machine-readable line for scripts: the worst error per group.
        var worstByGroup = ParityReport.Groups.Where(g => report.Worst(g) is not null).ToDictionary(g => g, g => report.Worst(g)!.Error);
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
        {
            golden = report.Golden, model = report.Model, dtype = report.DType.ToString(), device = report.Device.ToString(),
            device_name = report.DeviceName, tolerance,
            passed = report.Passed(tolerance), worst = worstByGroup,
        }));
    }
}
