using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Engine.Cpu;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench add</c>: an elementwise add of N floats beside a plain copy of N floats, in the same
/// process on the same machine. The add reads two arrays and writes one, the copy reads one and writes
/// one, so at memory speed the add needs 1.5x the copy's time. <c>--device cuda</c> runs <see cref="DeviceAddBench"/>.
/// </summary>
internal static class ElementwiseBench
{
    public static Command CreateCommand()
    {
        var count = new Option<int>("--count") { Description = "Number of float elements.", DefaultValueFactory = _ => 16 * 1024 * 1024 };
        var threads = new Option<int>("--threads") { Description = "Threads for the engine.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var repeat = new Option<int>("--repeat") { Description = "Timed runs after warm-up; the best and the median are reported.", DefaultValueFactory = _ => 20 };
        var device = DeviceBench.Option();
        var torch = new Option<bool>("--torch") { Description = "Also time PyTorch's add and copy_ on the same device in this run (Samples/bench/add_torch.py)." };
        var command = new Command("add", "Elementwise add of N floats vs a plain copy of N floats.") { count, threads, repeat, device, torch };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(count), t = parse.GetValue(threads), r = parse.GetValue(repeat);
            if (n < 1 || t < 1 || r < 1)
            {
                Console.Error.WriteLine("bench add: --count, --threads and --repeat must be at least 1.");
                return 2;
            }
            CpuParallel.ThreadCount = t;
            if (DeviceBench.Resolve("add", parse.GetValue(device)!) is not { } on) return 2;
            return on.Device.Type == DeviceType.Cuda ? DeviceAddBench.Run(on, n, r, parse.GetValue(torch)) : Run(n, t, r, parse.GetValue(torch));
        });
        return command;
    }

    private static (double Best, double Median) Time(int repeat, Action action)
    {
        action();
        action();
        var times = new double[repeat];
        for (int i = 0; i < repeat; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(times);
        return (times[0], times[repeat / 2]);
    }

    private static int Run(int n, int threads, int repeat, bool withTorch)
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Rand([n]);
        var y = Tensor.Rand([n]);
        var src = x.ToArray<float>();
        var dst = new float[n];

        var copy = Time(repeat, () => src.AsSpan().CopyTo(dst));
        var addInPlace = Time(repeat, () => x.AddInPlace(y));
        var addAllocating = Time(repeat, () => { using var z = x + y; });

        double mb = n * 4.0 / 1e6;
        var table = new Table().AddColumns("operation", "best ms", "median ms", "GB/s moved (best)", "vs copy");
        void Row(string name, (double Best, double Median) t, double arrays) =>
            table.AddRow(name, t.Best.ToString("0.00", CultureInfo.InvariantCulture), t.Median.ToString("0.00", CultureInfo.InvariantCulture),
                (arrays * mb / t.Best).ToString("0.0", CultureInfo.InvariantCulture), (t.Best / copy.Best).ToString("0.00x", CultureInfo.InvariantCulture));
        Row("plain copy (Span.CopyTo, 1 thread)", copy, 2);
        Row($"add in place x += y ({threads} threads)", addInPlace, 3);
        Row($"add z = x + y, new tensor ({threads} threads)", addAllocating, 3);
        string torchNote = "not asked for (--torch)";
        double? torchAdd = null, torchCopy = null;
        if (withTorch)
        {
            using var twin = TorchTwin.Run("add_torch.py", ["--device", "cpu", "--threads", threads.ToString(CultureInfo.InvariantCulture),
                "--count", n.ToString(CultureInfo.InvariantCulture), "--repeat", repeat.ToString(CultureInfo.InvariantCulture)], out torchNote);
            if (twin is not null)
            {
                (torchAdd, torchCopy) = (twin.RootElement.GetProperty("add_ms").GetDouble(), twin.RootElement.GetProperty("copy_ms").GetDouble());
                torchNote = $"x + y {torchAdd.Value.ToString("0.00", CultureInfo.InvariantCulture)} ms, copy_ {torchCopy.Value.ToString("0.00", CultureInfo.InvariantCulture)} ms (best)";
            }
        }
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"torch (cpu): {torchNote}");
        DeviceBench.WriteJson(new Dictionary<string, object?>
        {
            ["bench"] = "add",
            ["count"] = n,
            ["threads"] = threads,
            ["copy_ms"] = Math.Round(copy.Best, 3),
            ["add_inplace_ms"] = Math.Round(addInPlace.Best, 3),
            ["add_alloc_ms"] = Math.Round(addAllocating.Best, 3),
            ["add_inplace_vs_copy"] = Math.Round(addInPlace.Best / copy.Best, 3),
            ["add_alloc_vs_copy"] = Math.Round(addAllocating.Best / copy.Best, 3),
            ["torch_add_ms"] = torchAdd, ["torch_copy_ms"] = torchCopy,
            ["summary"] = $"add {addAllocating.Best.ToString("0.00", CultureInfo.InvariantCulture)} ms = {(addAllocating.Best / copy.Best).ToString("0.00", CultureInfo.InvariantCulture)}x the copy's time",
        });
        return 0;
    }
}
