using System.CommandLine;
using System.Globalization;
using Engine.Models.Parity;
using Spectre.Console;

namespace Engine.Samples.Cli.Parity;

/// <summary>
/// <c>engine parity --golden FILE</c>: rebuilds the golden's model from its metadata, runs forward and
/// backward on the golden input, and prints the largest relative error of the output, the input gradient,
/// the parameter gradients and the buffers after the step. Exit code 0 within tolerance, 1 above it,
/// 2 when the golden cannot be run at all.
/// </summary>
internal static class ParityCommand
{
    public static Command Create()
    {
        var golden = new Option<string>("--golden") { Description = "A golden safetensors file written by a reference implementation.", Required = true };
        var device = new Option<string>("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
        device.AcceptOnlyFromAmong("cpu", "cuda");
        var dtype = new Option<string>("--dtype") { Description = "f64 or f32.", DefaultValueFactory = _ => "f64" };
        dtype.AcceptOnlyFromAmong("f64", "f32");
        var tolerance = new Option<double?>("--tolerance") { Description = "Largest relative error accepted (default 1e-9 in f64, 1e-4 in f32)." };
        var command = new Command("parity", "Check a backbone against a golden file of its reference implementation.") { golden, device, dtype, tolerance };
        command.SetAction(parse => Run(parse.GetValue(golden)!, parse.GetValue(device)!, parse.GetValue(dtype) == "f32" ? DType.F32 : DType.F64, parse.GetValue(tolerance)));
        return command;
    }

    private static int Run(string path, string device, DType dtype, double? tolerance)
    {
        if (device == "cuda" && !Engine.Backends.Devices.CudaAvailable)
        {
            Console.Error.WriteLine("parity: --device cuda asked for, but no CUDA device is available on this machine.");
            return 2;
        }
        ParityReport report;
        try
        {
            using var golden = GoldenCase.Load(path);
            report = ParityRunner.Run(golden, dtype, device == "cuda" ? Device.Cuda(0) : Device.Cpu);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or KeyNotFoundException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        var tol = tolerance ?? ParityReport.DefaultTolerance(dtype);
        Print(report, tol);
        return report.Passed(tol) ? 0 : 1;
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
