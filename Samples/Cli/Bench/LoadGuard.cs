using System.Globalization;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// The machine's 1-minute load average before and after a CPU comparison. A comparison taken while other
/// processes compete for the cores is not a figure: both sides slow down, and not by the same amount (a
/// library whose threads spin collapses under load, which flatters whoever is compared with it). Every
/// CPU benchmark records the load, prints it with its table, flags a run above the threshold and, with
/// <c>--refuse-loaded</c>, refuses one (the options and the refusal: <c>BenchLoad</c>).
/// </summary>
/// <param name="Before">Load average when the run started (null where the system does not report one).</param>
/// <param name="After">Load average when the measuring ended.</param>
/// <param name="Threshold">Above this the run counts as loaded (default 1).</param>
internal sealed record LoadGuard(double? Before, double? After, double Threshold)
{
    /// <summary>The default threshold: on a quiet machine the 1-minute average stays well below one.</summary>
    public const double DefaultThreshold = 1.0;

    /// <summary>Exit code of a run refused (or spoilt) by load under <c>--refuse-loaded</c>.</summary>
    public const int LoadedExitCode = 3;

    private const string LoadAvgPath = "/proc/loadavg";

    /// <summary>This guard with the load read now, at the end of the measuring.</summary>
    public LoadGuard Finish() => this with { After = Read() };

    /// <summary>Whether either reading is above the threshold.</summary>
    public bool Loaded => Before > Threshold || After > Threshold;

    /// <summary>The line printed with the table.</summary>
    public string Line => $"load average (1 min): before {Format(Before)}, after {Format(After)}"
        + (Loaded ? $"; LOADED (above {Format(Threshold)}): these figures are not comparable with a quiet machine's"
            : Before is null && After is null ? "" : $"; quiet (at most {Format(Threshold)})");

    /// <summary>The exit code for a finished run: <see cref="LoadedExitCode"/> when refusing and loaded, else <paramref name="code"/>.</summary>
    public int ExitCode(bool refuse, int code) => refuse && Loaded ? LoadedExitCode : code;

    /// <summary>Adds <c>load_before</c>, <c>load_after</c>, <c>max_load</c> and <c>loaded</c> to a benchmark's JSON line.</summary>
    public void AddTo(Dictionary<string, object?> json)
    {
        json["load_before"] = Before;
        json["load_after"] = After;
        json["max_load"] = Threshold;
        json["loaded"] = Loaded;
    }

    /// <summary>The 1-minute load average, or null where <c>/proc/loadavg</c> does not exist or cannot be read.</summary>
    public static double? Read()
    {
        try { return File.Exists(LoadAvgPath) ? Parse(File.ReadAllText(LoadAvgPath)) : null; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>The first field of a <c>/proc/loadavg</c> line ("0.42 0.51 0.60 1/123 4567"); null when malformed.</summary>
    public static double? Parse(string text)
    {
        var first = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        return first is not null && double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v : null;
    }

    internal static string Format(double? v) => v is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) : "unknown";
}
