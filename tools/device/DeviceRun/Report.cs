using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Engine.Tools.DeviceRun;

/// <summary>
/// What a run leaves in its output folder: <c>table.txt</c> (the table printed at the end), <c>figures.json</c>
/// (every step's status, time and JSON line) and <c>run.log</c> (every step's full output). Three files, so
/// that the GPU tool's limit on files brought back (8) holds however many steps are added.
/// </summary>
internal sealed class Report
{
    private readonly string _dir;
    private readonly string _title;
    private readonly int _budget;
    private readonly DateTime _started = DateTime.UtcNow;

    public Report(string dir, string title, Dictionary<string, object?> device, int budgetSeconds)
    {
        _dir = dir;
        _title = title;
        _budget = budgetSeconds;
        Device = device;
        Directory.CreateDirectory(dir);
        File.WriteAllText(LogPath, $"{_title}\ndevice: {DeviceLine}\n");
    }

    /// <summary>The device probe's JSON fields (kind, name, summary, ...).</summary>
    public Dictionary<string, object?> Device { get; }

    private string LogPath => Path.Combine(_dir, "run.log");

    private string DeviceLine => Device.TryGetValue("summary", out var s) ? s?.ToString() ?? "" : "";

    /// <summary>A writer appending one step's output to run.log, up to <see cref="StepRunner.LogLimitBytes"/>.</summary>
    public StepLogWriter StepLog(Step step, int timeoutSeconds) => new(LogPath, $"=== {step.Name} (timeout {timeoutSeconds} s): {step.Command}");

    /// <summary>Rewrites table.txt and figures.json from the results so far; <paramref name="pending"/> are listed as not run yet.</summary>
    public void Write(IReadOnlyList<StepResult> results, IReadOnlyList<Step> pending)
    {
        var all = results.Concat(pending.Select(p => StepResult.NotRun(p, "not run yet (the run was cut short here)"))).ToList();
        File.WriteAllText(Path.Combine(_dir, "table.txt"), Table(all));
        var figures = new Dictionary<string, object?>
        {
            ["title"] = _title,
            ["started_utc"] = _started.ToString("u", CultureInfo.InvariantCulture),
            ["updated_utc"] = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
            ["budget_s"] = _budget,
            ["device"] = Device,
            ["counts"] = Enum.GetValues<StepStatus>().ToDictionary(s => s.ToString().ToLowerInvariant(), s => all.Count(r => r.Status == s)),
            ["steps"] = all.Select(r => new Dictionary<string, object?>
            {
                ["name"] = r.Step.Name,
                ["status"] = r.Status.ToString().ToLowerInvariant(),
                ["seconds"] = Math.Round(r.Seconds, 2),
                ["exit_code"] = r.ExitCode,
                ["timed_out"] = r.TimedOut,
                ["notes"] = r.Notes,
                ["target"] = r.Target.Length > 0 ? r.Target : null,
                ["timeout_s"] = r.Step.TimeoutSeconds,
                ["command"] = r.Step.Command,
                ["json"] = r.Json,
            }).ToList(),
        };
        File.WriteAllText(Path.Combine(_dir, "figures.json"), JsonSerializer.Serialize(figures, Json.Indented));
    }

    /// <summary>The table: a title, the device, then one row per step (status, seconds, target, notes) and the counts.</summary>
    public string Table(IReadOnlyList<StepResult> results)
    {
        const int NotesWidth = 110;
        var rows = results.Select(r => new[]
        {
            r.Step.Name, r.Status.ToString().ToLowerInvariant(), r.Seconds.ToString("F1", CultureInfo.InvariantCulture) + " s", r.Target,
            r.Notes.Length > NotesWidth ? r.Notes[..(NotesWidth - 3)] + "..." : r.Notes,
        }).ToList();
        var header = new[] { "step", "status", "time", "target", "notes" };
        var widths = Enumerable.Range(0, header.Length).Select(c => rows.Select(r => r[c].Length).Append(header[c].Length).Max()).ToArray();
        var text = new StringBuilder();
        text.AppendLine(_title);
        text.AppendLine($"device: {DeviceLine}");
        text.AppendLine();
        void Row(string[] cells) => text.AppendLine(string.Join("  ", cells.Select((c, i) => i == 2 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd());
        Row(header);
        Row(widths.Select(w => new string('-', w)).ToArray());
        foreach (var row in rows) Row(row);
        text.AppendLine();
        double total = results.Sum(r => r.Seconds);
        text.AppendLine($"{results.Count} steps: {results.Count(r => r.Status == StepStatus.Passed)} passed, {results.Count(r => r.Status == StepStatus.Failed)} failed, " +
            $"{results.Count(r => r.Status == StepStatus.Skipped)} skipped; {total.ToString("F0", CultureInfo.InvariantCulture)} s of steps (budget {_budget} s)");
        return text.ToString();
    }
}

/// <summary>Appends one step's lines to run.log, stopping (and saying so) at <see cref="StepRunner.LogLimitBytes"/>.</summary>
internal sealed class StepLogWriter : IDisposable
{
    private readonly StreamWriter _writer;
    private long _written, _dropped;

    public StepLogWriter(string path, string header)
    {
        _writer = new StreamWriter(path, append: true) { AutoFlush = true };
        _writer.WriteLine();
        _writer.WriteLine(header);
    }

    public void Line(string line)
    {
        if (_written + line.Length + 1 > StepRunner.LogLimitBytes)
        {
            _dropped += line.Length + 1;
            return;
        }
        _written += line.Length + 1;
        _writer.WriteLine(line);
    }

    /// <summary>Writes <paramref name="line"/> whatever the limit (the step's result line).</summary>
    public void Always(string line) => _writer.WriteLine(line);

    public void Dispose()
    {
        if (_dropped > 0) _writer.WriteLine($"... {_dropped} more bytes of output not kept (limit {StepRunner.LogLimitBytes} per step)");
        _writer.Dispose();
    }
}
