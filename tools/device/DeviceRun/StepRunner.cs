using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Engine.Tools.DeviceRun;

/// <summary>
/// <c>devicerun run STEPS --out DIR</c>: runs every step of the steps file in order, each as <c>bash -c</c>
/// with its own timeout (the whole process tree is killed when it runs over), inside an overall budget. A
/// failing step never stops the rest. After each step the table, <c>figures.json</c> and <c>run.log</c>
/// under DIR are rewritten, so a run cut short still leaves what it measured.
/// </summary>
internal static class StepRunner
{
    /// <summary>A step is not started with less than this left of the budget.</summary>
    public const int MinimumSeconds = 5;

    /// <summary>Output kept in run.log per step; the rest is counted, not written (a runaway loop must not fill the disk).</summary>
    public const long LogLimitBytes = 2 << 20;

    public static int Run(Arguments args)
    {
        var outDir = args.Value("--out") ?? throw new ArgumentException("run needs --out DIR.");
        int budget = args.Number("--budget", 540);
        var deviceJson = args.Value("--device-json");
        var title = args.Value("--title") ?? "device script";
        var rest = args.Rest();
        if (rest.Count != 1) throw new ArgumentException("run takes one steps file.");
        var steps = StepFile.Parse(File.ReadAllText(rest[0]));

        var device = deviceJson is null ? DeviceProbe.Probe().Figures : ReadDevice(deviceJson);
        var report = new Report(outDir, title, device, budget);
        var results = RunSteps(steps, report, budget, Console.Out);
        Console.WriteLine();
        Console.Write(report.Table(results));
        return results.Any(r => r.Status == StepStatus.Failed) ? 1 : 0;
    }

    /// <summary>
    /// Runs <paramref name="steps"/> in order within <paramref name="budgetSeconds"/>, reporting after each; a step
    /// is not started with less than <paramref name="minimumSeconds"/> left.
    /// </summary>
    public static List<StepResult> RunSteps(IReadOnlyList<Step> steps, Report report, int budgetSeconds, TextWriter progress, int minimumSeconds = MinimumSeconds)
    {
        var kind = report.Device.TryGetValue("kind", out var k) ? k?.ToString() ?? "none" : "none";
        var deviceSummary = report.Device.TryGetValue("summary", out var s) ? s?.ToString() ?? "" : "";
        var clock = Stopwatch.StartNew();
        var results = new List<StepResult>();
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            int left = budgetSeconds - (int)clock.Elapsed.TotalSeconds;
            progress.Write($"[{i + 1}/{steps.Count}] {step.Name} ... ");
            progress.Flush();
            StepResult result;
            if (step.Unmet(kind, deviceSummary) is { } unmet) result = StepResult.NotRun(step, unmet);
            else if (left < minimumSeconds) result = StepResult.NotRun(step, $"not started: the run's budget of {budgetSeconds} s was spent");
            else result = Execute(step, Math.Min(step.TimeoutSeconds, left), report, kind);
            results.Add(result);
            progress.WriteLine($"{result.Status.ToString().ToLowerInvariant()} ({result.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s)");
            report.Write(results, steps.Skip(i + 1).ToList());
        }
        return results;
    }

    /// <summary>Runs one step's command under bash with a timeout, its output appended to run.log.</summary>
    private static StepResult Execute(Step step, int timeoutSeconds, Report report, string kind)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(step.Command);
        start.Environment["DEVICE_KIND"] = kind;
        start.Environment["DEVICE_STEP"] = step.Name;
        using var log = report.StepLog(step, timeoutSeconds);
        string? lastJson = null, lastError = null;
        var gate = new object();
        void Take(string? line, bool isError)
        {
            if (line is null) return;
            lock (gate)
            {
                log.Line(isError ? "! " + line : line);
                var t = line.Trim();
                if (!isError && t.StartsWith('{')) lastJson = t;
                if (isError && t.Length > 0) lastError = t;
            }
        }
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Take(e.Data, false);
        process.ErrorDataReceived += (_, e) => Take(e.Data, true);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool timedOut = !process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds));
        if (timedOut)
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // it ended between the wait and the kill
        }
        process.WaitForExit(); // also drains the output readers
        double seconds = clock.Elapsed.TotalSeconds;
        int exitCode = process.ExitCode;
        JsonElement? json = lastJson is null ? null : Json.LastObject(lastJson);
        var result = StepResult.From(step, exitCode, timedOut, seconds, json, lastError);
        log.Always($"=== {step.Name}: {result.Status.ToString().ToLowerInvariant()}, exit {exitCode}{(timedOut ? " (timed out)" : "")}, {seconds:F1} s: {result.Notes}");
        return result;
    }

    private static Dictionary<string, object?> ReadDevice(string path)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : "";
        if (Json.LastObject(text) is not { } json)
            return new() { ["kind"] = "none", ["summary"] = $"unknown: no device probe in {path}" };
        return json.EnumerateObject().ToDictionary(p => p.Name, p => (object?)(p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.Clone()));
    }
}
