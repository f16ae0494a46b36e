using System.CommandLine;
using System.Globalization;
using Engine.Cpu;
using Engine.Ops;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench ops</c>: forward and backward time of each operator family on fixed shapes
/// (<see cref="OpsBenchCases"/>), optionally beside PyTorch's CPU times for the same cases, measured by
/// Samples/bench/ops_torch.py in the same invocation on the same device (<c>--device cuda</c>: both sides on
/// the GPU, timed with CUDA events). PyTorch is a yardstick only: without it the command still runs and says
/// so. A case that fails on the device (no kernel yet) is reported with its message; the others still run.
/// </summary>
internal static class OpsBench
{
    private const double SlowRatio = 1.5;

    /// <summary>
    /// Warm-up runs per case by default. .NET compiles a method first without optimisation and recompiles it
    /// in steps (an instrumented tier after about 30 calls, the final code after some 30 more and 100 ms
    /// without new first-tier work). 2 warm-up runs timed that first code (layer_norm's forward 2.6 ms instead
    /// of 0.5 ms); after 40, sum_dim1 and layer_norm2d still ran at a third of their final speed; 150 reach it.
    /// </summary>
    public const int DefaultWarmup = 150;

    public static Command CreateCommand()
    {
        var threads = new Option<int>("--threads") { Description = "Threads for the engine (and for PyTorch).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dtype = new Option<string>("--dtype") { Description = "f32 or f64.", DefaultValueFactory = _ => "f32" };
        var filter = new Option<string?>("--filter") { Description = "Run only the cases whose name contains this." };
        var repeat = new Option<int>("--repeat") { Description = "Timed runs after warm-up; the median and the minimum are reported.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Untimed runs of each case before the timed ones, on both sides. The engine's kernels are compiled by the JIT, "
                + "which needs some calls to reach its final code: too few warm-up runs time the JIT, not the kernel.",
            DefaultValueFactory = _ => DefaultWarmup,
        };
        var torch = new Option<bool>("--torch") { Description = "Also time the same cases with PyTorch on the same device (Samples/bench/ops_torch.py)." };
        var device = DeviceBench.Option();
        var maxLoad = BenchLoad.MaxLoadOption();
        var refuse = BenchLoad.RefuseOption();
        var noWinograd = new Option<bool>("--no-winograd")
        {
            Description = "Convolutions without the Winograd path (ConvAlgorithms.AllowWinograd = false): the direct path, for A/B comparisons.",
        };
        var command = new Command("ops", "Forward and backward time of every operator family on fixed shapes.") { threads, dtype, filter, repeat, warmup, torch, device, maxLoad, refuse, noWinograd };
        command.SetAction(parse =>
        {
            ConvAlgorithms.AllowWinograd = !parse.GetValue(noWinograd);
            return Run(parse.GetValue(threads), parse.GetValue(dtype)!, parse.GetValue(filter), parse.GetValue(repeat), parse.GetValue(warmup), parse.GetValue(torch), parse.GetValue(device)!,
                parse.GetValue(maxLoad), parse.GetValue(refuse));
        });
        return command;
    }

    private static int Run(int threads, string dtypeName, string? filter, int repeat, int warmup, bool withTorch, string deviceText, double maxLoad, bool refuse)
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
        if (DeviceBench.Resolve("ops", deviceText) is not { } on) return 2;
        if (on.Device.Type == DeviceType.Cuda) DeviceBench.Title($"bench ops on {on.Device}", on);
        if (BenchLoad.Start("ops", maxLoad, refuse) is not { } guard) return LoadGuard.LoadedExitCode;
        var engine = new Dictionary<string, OpsBenchTiming>();
        var errors = new Dictionary<string, string>();
        foreach (var c in cases)
        {
            // One case without a kernel on this device (or failing) must not hide the others' figures.
            try
            {
                engine[c.Name] = OpsBenchCases.Time(c, dtype.Value, repeat, warmup: warmup, device: on.Device);
                Console.Error.WriteLine($"bench ops: {c.Name} done");
            }
            catch (Exception e)
            {
                errors[c.Name] = e is NotSupportedException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                Console.Error.WriteLine($"bench ops: {c.Name} failed: {errors[c.Name]}");
            }
        }
        string? torchNote = null;
        Dictionary<string, OpsBenchTiming>? torch = null;
        if (withTorch && on.Emulated) torchNote = "not run: the CUDA emulator is not a GPU PyTorch can use";
        else if (withTorch) torch = RunTorch(threads, dtypeName, filter, repeat, warmup, on.Device, out torchNote);
        guard = guard.Finish();

        Report(cases, engine, errors, torch, threads, dtypeName, repeat, warmup, on);
        AnsiConsole.MarkupLine(Markup.Escape(guard.Line));
        var json = new Dictionary<string, object?>
        {
            ["bench"] = "ops",
            ["device"] = on.Device.ToString(),
            ["device_name"] = on.Name,
            ["emulated"] = on.Emulated,
            ["threads"] = threads,
            ["dtype"] = dtypeName,
            ["repeat"] = repeat,
            ["warmup"] = warmup,
            ["engine"] = engine.ToDictionary(kv => kv.Key, kv => Figures(kv.Value)),
        };
        if (errors.Count > 0) json["errors"] = errors;
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
        json["summary"] = $"{engine.Count}/{cases.Count} cases ran" + (errors.Count > 0 ? $"; first failure: {errors.First().Key}: {errors.First().Value}" : "")
            + (on.Emulated ? " [emulated: times meaningless]" : "") + (guard.Loaded ? " [loaded]" : "");
        guard.AddTo(json);
        DeviceBench.WriteJson(json);
        return guard.ExitCode(refuse, errors.Count == 0 ? 0 : 1);
    }

    private static Dictionary<string, double> Figures(OpsBenchTiming t) => new()
    {
        ["fwd_median_ms"] = Math.Round(t.ForwardMedian, 3),
        ["fwd_min_ms"] = Math.Round(t.ForwardMin, 3),
        ["bwd_median_ms"] = Math.Round(t.BackwardMedian, 3),
        ["bwd_min_ms"] = Math.Round(t.BackwardMin, 3),
    };

    private static double? Ratio(double engine, double torch) => torch > 0 ? Math.Round(engine / torch, 2) : null;

    private static void Report(List<OpsBenchCase> cases, Dictionary<string, OpsBenchTiming> engine, Dictionary<string, string> errors,
        Dictionary<string, OpsBenchTiming>? torch, int threads, string dtype, int repeat, int warmup, BenchDevice on)
    {
        static string Ms(double v) => v.ToString(v < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture);
        string where = on.Device.Type == DeviceType.Cpu ? $"{threads} threads" : on.Device.ToString();
        var table = new Table().Title($"bench ops: {dtype}, {where}, median (min) of {repeat} runs after {warmup} warm-up runs, ms; ratios of the minima");
        table.AddColumns("case", "fwd", "bwd");
        if (torch is not null) table.AddColumns("torch fwd", "torch bwd", "fwd ratio", "bwd ratio");
        foreach (var c in cases)
        {
            if (!engine.TryGetValue(c.Name, out var e))
            {
                var failed = new List<string> { c.Name, "failed", "" };
                if (torch is not null) failed.AddRange(["", "", "", ""]);
                table.AddRow(failed.Select(Markup.Escape).ToArray());
                continue;
            }
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
        foreach (var (name, why) in errors) AnsiConsole.MarkupLine($"[red]{Markup.Escape(name)}[/]: {Markup.Escape(why)}");
    }

    /// <summary>Ratio engine/torch of the minimum times (the least disturbed on a shared machine), with a mark where the engine is more than 1.5x slower.</summary>
    private static string Flag(double? ratio) => ratio is null ? "-"
        : ratio.Value.ToString("0.00", CultureInfo.InvariantCulture) + (ratio > SlowRatio ? " !" : "");

    /// <summary>Runs the PyTorch twin on the same device and reads its cases; null (and why) when it cannot.</summary>
    private static Dictionary<string, OpsBenchTiming>? RunTorch(int threads, string dtype, string? filter, int repeat, int warmup, Device device, out string? note)
    {
        var args = new List<string> { "--device", device.ToString(), "--threads", threads.ToString(CultureInfo.InvariantCulture), "--dtype", dtype,
            "--repeat", repeat.ToString(CultureInfo.InvariantCulture), "--warmup", warmup.ToString(CultureInfo.InvariantCulture) };
        if (filter is not null) args.AddRange(["--filter", filter]);
        using var doc = TorchTwin.Run("ops_torch.py", args, out var why);
        note = doc is null ? why : null;
        return doc?.RootElement.GetProperty("cases").EnumerateObject().ToDictionary(p => p.Name, p => new OpsBenchTiming(
            p.Value.GetProperty("fwd_median_ms").GetDouble(), p.Value.GetProperty("fwd_min_ms").GetDouble(),
            p.Value.GetProperty("bwd_median_ms").GetDouble(), p.Value.GetProperty("bwd_min_ms").GetDouble()));
    }
}
