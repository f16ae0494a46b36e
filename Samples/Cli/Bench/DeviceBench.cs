using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Engine.Backends;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>A device as a benchmark reports it: its name, and whether it is the CUDA emulator, whose times mean nothing.</summary>
/// <param name="Device">The device.</param>
/// <param name="Name">The GPU's name, or "CPU".</param>
/// <param name="Emulated">True on the CUDA emulator (a CPU library answering the CUDA API for tests).</param>
internal sealed record BenchDevice(Device Device, string Name, bool Emulated)
{
    /// <summary>The line printed under a benchmark's title.</summary>
    public string Describe() => Emulated
        ? $"{Device} = {Name}: not a GPU, these times are meaningless"
        : $"{Device} = {Name}";
}

/// <summary>
/// What the benchmarks that take <c>--device</c> share: resolving the device, timing on its clock (CUDA
/// events on a GPU, a stopwatch on the CPU), and reporting a failure as one message and one JSON line.
/// </summary>
internal static class DeviceBench
{
    /// <summary>The <c>--device</c> option: cpu, cuda or cuda:N.</summary>
    public static Option<string> Option() => new("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };

    /// <summary>
    /// The device named by <paramref name="text"/>, or null after printing why it cannot be used here (a
    /// JSON line with <c>skipped</c>, so that the device script reports it as skipped, not passed).
    /// </summary>
    public static BenchDevice? Resolve(string bench, string text)
    {
        Device device;
        try { device = Devices.Parse(text); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            Console.Error.WriteLine($"bench {bench}: {e.Message}");
            WriteJson(new() { ["bench"] = bench, ["device"] = text, ["skipped"] = e.Message });
            return null;
        }
        if (device.Type != DeviceType.Cuda) return new BenchDevice(device, "CPU", false);
        var name = Engine.Cuda.Cuda.Device(device.Index).Name;
        return new BenchDevice(device, name, Engine.Cuda.Cuda.IsEmulated);
    }

    /// <summary>A timed sample covers about this long, so that launch latency and the timer's resolution wash out.</summary>
    public const double SampleMilliseconds = 10;

    /// <summary>
    /// Runs <paramref name="run"/> <paramref name="warmup"/> times, then takes <paramref name="repeat"/> samples on a
    /// device timer, each of <c>inner</c> back-to-back calls (enough for about <see cref="SampleMilliseconds"/>,
    /// 1 to 100, judged from one timed call); the best and the median per call in milliseconds. The PyTorch
    /// twins time the same way.
    /// </summary>
    public static (double Best, double Median, int Inner) Time(Device device, int warmup, int repeat, Action run)
    {
        for (int i = 0; i < warmup; i++) run();
        Devices.Synchronize(device);
        double once;
        using (var probe = Devices.StartTimer(device))
        {
            run();
            once = probe.Stop();
        }
        int inner = (int)Math.Clamp(Math.Ceiling(SampleMilliseconds / Math.Max(once, 1e-3)), 1, 100);
        var times = new double[repeat];
        for (int i = 0; i < repeat; i++)
        {
            using var timer = Devices.StartTimer(device);
            for (int k = 0; k < inner; k++) run();
            times[i] = timer.Stop() / inner;
        }
        Array.Sort(times);
        return (times[0], times[repeat / 2], inner);
    }

    /// <summary>
    /// Reports an operation that failed on the device (a missing kernel, a driver error) as one line on
    /// stderr and a JSON line with <c>error</c>; exit code 1. Only unexpected exceptions carry their stack.
    /// </summary>
    public static int Fail(string bench, BenchDevice device, Exception e, Dictionary<string, object?>? figures = null)
    {
        Console.Error.WriteLine(e is NotSupportedException
            ? $"bench {bench} on {device.Device}: {e.Message}"
            : $"bench {bench} on {device.Device}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        var json = figures ?? [];
        json["bench"] = bench;
        json["device"] = device.Device.ToString();
        json["device_name"] = device.Name;
        json["emulated"] = device.Emulated;
        json["error"] = e.Message;
        json["summary"] = "failed: " + e.Message;
        WriteJson(json);
        return 1;
    }

    // Messages quote names ('x'): keep them readable in the JSON line rather than \u0027.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes the one JSON line a benchmark ends with, after flushing what was printed for a person.</summary>
    public static void WriteJson(Dictionary<string, object?> json)
    {
        Console.Out.Flush();
        Console.WriteLine(JsonSerializer.Serialize(json, Readable));
    }

    /// <summary>A ratio as a percentage with no decimals; "-" when absent.</summary>
    public static string Percent(double? ratio) => ratio is { } r ? r.ToString("P0", CultureInfo.InvariantCulture) : "-";

    /// <summary>Prints the title line and, on the emulator, the warning that the times mean nothing.</summary>
    public static void Title(string title, BenchDevice device)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(title)}[/]");
        AnsiConsole.MarkupLine(device.Emulated ? $"[yellow]{Markup.Escape(device.Describe())}[/]" : Markup.Escape(device.Describe()));
    }
}
