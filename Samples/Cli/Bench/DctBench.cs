using System.CommandLine;
using System.Globalization;
using Engine.Cpu;
using Engine.Ops;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench dct</c>: the 2-D DCT's two implementations (dense-basis products and FFT) on square
/// n×n planes, about a million values per call, to find the size where the FFT starts to win
/// (<see cref="Functional.DctFftCrossover"/> on the CPU, <see cref="Functional.DctFftCrossoverCuda"/> with
/// <c>--device cuda</c>, timed on CUDA events).
/// </summary>
internal static class DctBench
{
    public static Command CreateCommand()
    {
        var threads = new Option<int>("--threads") { Description = "Threads for the engine.", DefaultValueFactory = _ => 2 };
        var repeat = new Option<int>("--repeat") { Description = "Timed runs after warm-up; the best is reported.", DefaultValueFactory = _ => 5 };
        var dtype = new Option<string>("--dtype") { Description = "f32 or f64.", DefaultValueFactory = _ => "f32" };
        var sizes = new Option<string>("--sizes") { Description = "Comma-separated plane sides.", DefaultValueFactory = _ => "8,16,28,32,56,64,96,128,192,256" };
        var device = DeviceBench.Option();
        var command = new Command("dct", "2-D DCT: matrix products vs FFT over plane sizes (the crossover of DctImplementation.Auto).") { threads, repeat, dtype, sizes, device };
        command.SetAction(parse => Run(parse.GetValue(threads), parse.GetValue(repeat), parse.GetValue(dtype)!, parse.GetValue(sizes)!, parse.GetValue(device)!));
        return command;
    }

    private static int Run(int threads, int repeat, string dtypeName, string sizeList, string deviceName)
    {
        if (threads < 1 || repeat < 1 || dtypeName is not ("f32" or "f64"))
        {
            Console.Error.WriteLine("bench dct: --threads and --repeat must be at least 1, --dtype f32 or f64.");
            return 2;
        }
        if (DeviceBench.Resolve("dct", deviceName) is not { } on) return 2;
        CpuParallel.ThreadCount = threads;
        var dtype = dtypeName == "f32" ? DType.F32 : DType.F64;
        Console.WriteLine(on.Describe());
        var table = new Table().AddColumns("plane", "planes", "matmul ms", "fft ms", "fft / matmul");
        var rows = new List<Dictionary<string, object>>();
        int? crossover = null;
        foreach (var n in sizeList.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)))
        {
            int planes = Math.Max(1, (1 << 20) / (n * n));
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([planes, n, n], dtype, Device.Cpu).ToDevice(on.Device);
            double mm = DeviceBench.Time(on.Device, 1, repeat, () => { using var y = Functional.Dct2(x, DctImplementation.Matmul); }).Best;
            double fft = DeviceBench.Time(on.Device, 1, repeat, () => { using var y = Functional.Dct2(x, DctImplementation.Fft); }).Best;
            if (fft < mm) crossover ??= n; else crossover = null;
            table.AddRow($"{n}x{n}", planes.ToString(CultureInfo.InvariantCulture), mm.ToString("0.000", CultureInfo.InvariantCulture),
                fft.ToString("0.000", CultureInfo.InvariantCulture), (fft / mm).ToString("0.00", CultureInfo.InvariantCulture));
            rows.Add(new() { ["n"] = n, ["planes"] = planes, ["matmul_ms"] = Math.Round(mm, 4), ["fft_ms"] = Math.Round(fft, 4) });
        }
        AnsiConsole.Write(table);
        Console.WriteLine(crossover is { } c ? $"the FFT is faster from {c}x{c} on (of the sizes measured)" : "the FFT was not faster at the largest sizes measured");
        DeviceBench.WriteJson(new() { ["bench"] = "dct", ["device"] = on.Device.ToString(), ["device_name"] = on.Name, ["emulated"] = on.Emulated,
            ["threads"] = threads, ["dtype"] = dtypeName, ["crossover"] = crossover, ["sizes"] = rows });
        return 0;
    }
}
