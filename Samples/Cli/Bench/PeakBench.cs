using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench peak</c>: the machine's FMA throughput (<see cref="FmaPeak"/>) in GFLOP/s, for AVX2 and, where
/// present, AVX-512; F32 and F64; one thread and <c>--threads</c> threads of the engine's team. It is the ceiling
/// every kernel benchmark is read against (<c>bench gemm</c> measures it again in its own run).
/// </summary>
internal static class PeakBench
{
    public static Command CreateCommand()
    {
        var threads = new Option<int>("--threads") { Description = "Threads for the multi-threaded row.", DefaultValueFactory = _ => Environment.ProcessorCount };
        threads.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError("--threads must be at least 1.");
        });
        var maxLoad = BenchLoad.MaxLoadOption();
        var refuse = BenchLoad.RefuseOption();
        var command = new Command("peak", "FMA throughput of this machine (AVX2 and AVX-512, F32 and F64, 1 and N threads), GFLOP/s.") { threads, maxLoad, refuse };
        command.SetAction(parse => Run(parse.GetValue(threads), parse.GetValue(maxLoad), parse.GetValue(refuse)));
        return command;
    }

    /// <summary>One measured ceiling.</summary>
    internal readonly record struct Peak(FmaIsa Isa, string DType, int Threads, double Gflops);

    private static int Run(int threads, double maxLoad, bool refuse)
    {
        if (BenchLoad.Start("peak", maxLoad, refuse) is not { } guard) return LoadGuard.LoadedExitCode;
        var peaks = new List<Peak>();
        var missing = new List<string>();
        foreach (var isa in new[] { FmaIsa.Avx2, FmaIsa.Avx512 })
        {
            if (!FmaPeak.Supported(isa)) { missing.Add(IsaName(isa)); continue; }
            foreach (bool f64 in new[] { false, true })
                foreach (int t in threads == 1 ? new[] { 1 } : new[] { 1, threads })
                    peaks.Add(new Peak(isa, f64 ? "f64" : "f32", t, FmaPeak.Measure(isa, f64, t)));
        }
        guard = guard.Finish();

        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
        AnsiConsole.Write(Table(peaks, threads));
        foreach (var m in missing) AnsiConsole.MarkupLine($"{m}: not available in this process");
        AnsiConsole.MarkupLine(Markup.Escape(guard.Line));
        var json = new Dictionary<string, object?>
        {
            ["bench"] = "peak", ["threads"] = threads,
            ["peaks"] = peaks.Select(p => new Dictionary<string, object?>
            {
                ["isa"] = IsaName(p.Isa), ["dtype"] = p.DType, ["threads"] = p.Threads, ["gflops"] = Math.Round(p.Gflops, 1),
            }).ToList(),
            ["summary"] = string.Join(", ", peaks.Where(p => p.Threads == threads).Select(p => $"{IsaName(p.Isa)} {p.DType} {F(p.Gflops)}"))
                + $" GFLOP/s on {threads} thread(s)" + (guard.Loaded ? " [loaded]" : ""),
        };
        guard.AddTo(json);
        DeviceBench.WriteJson(json);
        return guard.ExitCode(refuse, 0);
    }

    /// <summary>The table: one row per width and type, the 1-thread and N-thread figures and the N-thread figure per thread.</summary>
    internal static Table Table(IReadOnlyList<Peak> peaks, int threads)
    {
        var table = new Table().Title("FMA peak, GFLOP/s (best of 5; one FMA = 2 flops)")
            .AddColumns("width", "dtype", "1 thread", $"{threads} threads", "per thread");
        foreach (var group in peaks.GroupBy(p => (p.Isa, p.DType)))
        {
            double? one = group.FirstOrDefault(p => p.Threads == 1) is { Gflops: > 0 } o ? o.Gflops : null;
            double? all = group.FirstOrDefault(p => p.Threads == threads) is { Gflops: > 0 } a ? a.Gflops : null;
            table.AddRow(IsaName(group.Key.Isa), group.Key.DType, F(one), F(all), F(all / threads));
        }
        return table;
    }

    /// <summary>The width as printed and in the JSON line.</summary>
    internal static string IsaName(FmaIsa isa) => isa == FmaIsa.Avx512 ? "AVX-512" : "AVX2";

    private static string F(double? v) => v is { } x ? x.ToString("F1", CultureInfo.InvariantCulture) : "-";
}
