using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Cpu;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench ops</c>: forward and backward time of each operator family on fixed shapes
/// (<see cref="OpsBenchCases"/>), optionally beside PyTorch's CPU times for the same cases, measured by
/// Samples/bench/ops_torch.py in the same invocation. PyTorch is a yardstick only: without it the
/// command still runs and says so.
/// </summary>
internal static class OpsBench
{
    private const string TorchPython = "/usr/bin/python3";
    private const double SlowRatio = 1.5;

    public static Command CreateCommand()
    {
        var threads = new Option<int>("--threads") { Description = "Threads for the engine (and for PyTorch).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dtype = new Option<string>("--dtype") { Description = "f32 or f64.", DefaultValueFactory = _ => "f32" };
        var filter = new Option<string?>("--filter") { Description = "Run only the cases whose name contains this." };
        var repeat = new Option<int>("--repeat") { Description = "Timed runs after warm-up; the median and the minimum are reported.", DefaultValueFactory = _ => 10 };
        var torch = new Option<bool>("--torch") { Description = $"Also time the same cases with PyTorch ({TorchPython} Samples/bench/ops_torch.py)." };
        var command = new Command("ops", "Forward and backward time of every operator family on fixed shapes.") { threads, dtype, filter, repeat, torch };
        command.SetAction(parse => Run(parse.GetValue(threads), parse.GetValue(dtype)!, parse.GetValue(filter), parse.GetValue(repeat), parse.GetValue(torch)));
        return command;
    }

    private static int Run(int threads, string dtypeName, string? filter, int repeat, bool withTorch)
    {
        if (threads < 1 || repeat < 1)
        {
            Console.Error.WriteLine("bench ops: --threads and --repeat must be at least 1.");
            return 2;
        }
        DType? dtype = dtypeName switch { "f32" => DType.F32, "f64" => DType.F64, _ => null };
        if (dtype is null)
        {
            Console.Error.WriteLine($"bench ops: --dtype must be f32 or f64, not '{dtypeName}'.");
            return 2;
        }
        var cases = OpsBenchCases.All.Where(c => filter is null || c.Name.Contains(filter, StringComparison.Ordinal)).ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine($"bench ops: no case name contains '{filter}'.");
            return 2;
        }

        CpuParallel.ThreadCount = threads;
        var engine = new Dictionary<string, OpsBenchTiming>();
        foreach (var c in cases)
        {
            engine[c.Name] = OpsBenchCases.Time(c, dtype.Value, repeat);
            Console.Error.WriteLine($"bench ops: {c.Name} done");
        }
        string? torchNote = null;
        var torch = withTorch ? RunTorch(threads, dtypeName, filter, repeat, out torchNote) : null;

        Report(cases, engine, torch, threads, dtypeName, repeat);
        var json = new Dictionary<string, object?>
        {
            ["bench"] = "ops",
            ["threads"] = threads,
            ["dtype"] = dtypeName,
            ["repeat"] = repeat,
            ["engine"] = engine.ToDictionary(kv => kv.Key, kv => Figures(kv.Value)),
        };
        if (withTorch)
        {
            json["torch"] = torch is null ? torchNote : torch.ToDictionary(kv => kv.Key, kv => Figures(kv.Value));
            if (torch is not null)
                json["ratio"] = engine.Where(kv => torch.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key, kv => new Dictionary<string, double?>
                {
                    ["fwd"] = Ratio(kv.Value.ForwardMin, torch[kv.Key].ForwardMin),
                    ["bwd"] = Ratio(kv.Value.BackwardMin, torch[kv.Key].BackwardMin),
                });
        }
        Console.WriteLine(JsonSerializer.Serialize(json));
        return 0;
    }

    private static Dictionary<string, double> Figures(OpsBenchTiming t) => new()
    {
        ["fwd_median_ms"] = Math.Round(t.ForwardMedian, 3),
        ["fwd_min_ms"] = Math.Round(t.ForwardMin, 3),
        ["bwd_median_ms"] = Math.Round(t.BackwardMedian, 3),
        ["bwd_min_ms"] = Math.Round(t.BackwardMin, 3),
    };

    private static double? Ratio(double engine, double torch) => torch > 0 ? Math.Round(engine / torch, 2) : null;

    private static void Report(List<OpsBenchCase> cases, Dictionary<string, OpsBenchTiming> engine,
        Dictionary<string, OpsBenchTiming>? torch, int threads, string dtype, int repeat)
    {
        static string Ms(double v) => v.ToString(v < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture);
        var table = new Table().Title($"bench ops: {dtype}, {threads} threads, median (min) of {repeat} runs, ms; ratios of the minima");
        table.AddColumns("case", "fwd", "bwd");
        if (torch is not null) table.AddColumns("torch fwd", "torch bwd", "fwd ratio", "bwd ratio");
        foreach (var c in cases)
        {
            var e = engine[c.Name];
            var row = new List<string> { c.Name, $"{Ms(e.ForwardMedian)} ({Ms(e.ForwardMin)})", $"{Ms(e.BackwardMedian)} ({Ms(e.BackwardMin)})" };
            if (torch is not null)
            {
                if (torch.TryGetValue(c.Name, out var t))
                    row.AddRange([$"{Ms(t.ForwardMedian)} ({Ms(t.ForwardMin)})", $"{Ms(t.BackwardMedian)} ({Ms(t.BackwardMin)})",
                        Flag(Ratio(e.ForwardMin, t.ForwardMin)), Flag(Ratio(e.BackwardMin, t.BackwardMin))]);
                else
                    row.AddRange(["-", "-", "-", "-"]);
            }
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }
        // Piped output has no terminal width; keep the rows on one line each for the docs.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
        AnsiConsole.Write(table);
    }

    /// <summary>Ratio engine/torch of the minimum times (the least disturbed on a shared machine), with a mark where the engine is more than 1.5x slower.</summary>
    private static string Flag(double? ratio) => ratio is null ? "-"
        : ratio.Value.ToString("0.00", CultureInfo.InvariantCulture) + (ratio > SlowRatio ? " !" : "");

    /// <summary>Runs the PyTorch twin and reads the JSON object on its last stdout line; null (and why) when it cannot.</summary>
    private static Dictionary<string, OpsBenchTiming>? RunTorch(int threads, string dtype, string? filter, int repeat, out string? note)
    {
        note = null;
        var script = BenchScripts.Find("ops_torch.py");
        if (!File.Exists(TorchPython) || script is null)
        {
            note = "not available";
            return null;
        }
        var start = new ProcessStartInfo(TorchPython) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { script, "--threads", threads.ToString(CultureInfo.InvariantCulture), "--dtype", dtype, "--repeat", repeat.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        if (filter is not null)
        {
            start.ArgumentList.Add("--filter");
            start.ArgumentList.Add(filter);
        }
        using var process = Process.Start(start)!;
        var lines = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        process.WaitForExit();
        if (process.ExitCode != 0 || lines.Length == 0)
        {
            note = $"not available (ops_torch.py exited with {process.ExitCode})";
            return null;
        }
        using var doc = JsonDocument.Parse(lines[^1]);
        return doc.RootElement.GetProperty("cases").EnumerateObject().ToDictionary(p => p.Name, p => new OpsBenchTiming(
            p.Value.GetProperty("fwd_median_ms").GetDouble(), p.Value.GetProperty("fwd_min_ms").GetDouble(),
            p.Value.GetProperty("bwd_median_ms").GetDouble(), p.Value.GetProperty("bwd_min_ms").GetDouble()));
    }
}
