using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Engine.Tools.DeviceRun;

/// <summary>
/// <c>devicerun tests ... --sanitizer memcheck</c>: the same test selection, run again by this program under
/// NVIDIA's <c>compute-sanitizer --tool TOOL</c> (part of the CUDA toolkit). The step fails when the sanitizer
/// reports an error, or when no selected test passed (so it watched nothing whole); it is skipped, saying why,
/// where there is no compute-sanitizer or every test skipped.
/// </summary>
internal static partial class Sanitizer
{
    /// <summary>The exit code asked of compute-sanitizer when it finds errors (distinct from a test failure's 1).</summary>
    public const int ErrorExitCode = 86;

    [GeneratedRegex(@"ERROR SUMMARY: (\d+) error")]
    private static partial Regex ErrorSummary();

    /// <summary>compute-sanitizer on PATH, under $CUDA_HOME/bin, or in /usr/local/cuda*/bin (newest first); null when there is none.</summary>
    public static string? Find()
    {
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).ToList();
        foreach (var home in new[] { "CUDA_HOME", "CUDA_PATH" })
            if (Environment.GetEnvironmentVariable(home) is { Length: > 0 } h) folders.Add(Path.Combine(h, "bin"));
        folders.Add("/usr/local/cuda/bin");
        if (Directory.Exists("/usr/local"))
            folders.AddRange(Directory.GetDirectories("/usr/local", "cuda-*").OrderDescending(StringComparer.Ordinal).Select(d => Path.Combine(d, "bin")));
        return folders.Select(f => Path.Combine(f, "compute-sanitizer")).FirstOrDefault(File.Exists);
    }

    /// <summary>Runs this program's <c>tests</c> verb with <paramref name="args"/> (less the sanitizer options) under compute-sanitizer.</summary>
    public static int Run(string tool, string[] args)
    {
        var exe = Find();
        if (exe is null)
            return Finish(new() { ["tool"] = tool, ["skipped"] = "compute-sanitizer not found (no CUDA toolkit on PATH, $CUDA_HOME or /usr/local/cuda*)" }, StepResult.SkipExitCode);

        var work = Directory.CreateTempSubdirectory("devicerun-sanitizer-").FullName;
        var inner = Strip(args, "--sanitizer", "--json-file");
        var start = new ProcessStartInfo(exe) { UseShellExecute = false };
        foreach (var a in new[] { "--tool", tool, "--error-exitcode", ErrorExitCode.ToString(CultureInfo.InvariantCulture), "--print-limit", "100",
            "--log-file", Path.Combine(work, "sanitizer.%p.log"), Environment.ProcessPath!, Assembly.GetEntryAssembly()!.Location })
            start.ArgumentList.Add(a);
        foreach (var a in inner.Append("--json-file").Append(Path.Combine(work, "tests.json"))) start.ArgumentList.Add(a);
        // The JIT's double-mapped code pages (W^X) are one more thing for an injected tool to trip on; they protect nothing here.
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        Console.WriteLine($"{exe} --tool {tool} ... devicerun {string.Join(' ', inner)}");
        using var process = Process.Start(start)!;
        process.WaitForExit();

        var logs = Directory.GetFiles(work, "sanitizer.*.log").Select(File.ReadAllText).ToList();
        foreach (var log in logs) Console.WriteLine(log.Length > 20000 ? log[..20000] + "\n... (log cut at 20000 characters)" : log);
        var summaries = logs.SelectMany(l => ErrorSummary().Matches(l)).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        var tests = File.Exists(Path.Combine(work, "tests.json")) ? Json.LastObject(File.ReadAllText(Path.Combine(work, "tests.json"))) : null;
        int errors = summaries.Sum();
        var json = new Dictionary<string, object?> { ["tool"] = tool, ["sanitizer"] = exe, ["exit_code"] = process.ExitCode, ["errors"] = errors, ["tests"] = tests };
        int Count(string name) => tests is { } t && t.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;
        string counts = $"{Count("passed")} passed, {Count("failed")} failed, {Count("skipped_count")} skipped";
        if (tests is null || summaries.Count == 0)
        {
            json["error"] = $"the sanitized run ended without {(tests is null ? "test results" : "an ERROR SUMMARY")} (exit {process.ExitCode})";
            return Finish(json, 1);
        }
        if (errors > 0)
        {
            json["error"] = $"{tool}: {errors} error(s); tests: {counts}";
            return Finish(json, 1);
        }
        // Test failures are the gpu-tests step's to report; this step asks whether what ran was clean. Only
        // when nothing passed did the sanitizer watch too little to say so.
        if (Count("passed") == 0 && Count("failed") > 0)
        {
            json["error"] = $"{tool}: 0 errors, but no selected test passed ({counts})";
            return Finish(json, 1);
        }
        if (Count("passed") == 0)
        {
            json["skipped"] = $"{tool} ran, but every selected test was skipped ({counts})";
            return Finish(json, StepResult.SkipExitCode);
        }
        json["summary"] = $"{tool}: 0 errors; tests: {counts}";
        return Finish(json, 0);
    }

    private static int Finish(Dictionary<string, object?> json, int exitCode)
    {
        Console.WriteLine(JsonSerializer.Serialize(json, Json.Readable));
        return exitCode;
    }

    /// <summary><paramref name="args"/> without each named option and its value.</summary>
    internal static List<string> Strip(string[] args, params string[] options)
    {
        var kept = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (options.Contains(args[i])) { i++; continue; }
            kept.Add(args[i]);
        }
        return kept;
    }
}
