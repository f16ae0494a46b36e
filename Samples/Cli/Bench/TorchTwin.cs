using System.Diagnostics;
using System.Text.Json;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// Runs a PyTorch twin (a script under <c>Samples/bench</c>) and reads the JSON object on its last stdout
/// line. PyTorch is a yardstick, never a dependency: when it cannot run, the caller gets null and a
/// one-line reason to print instead of the figure.
/// </summary>
internal static class TorchTwin
{
    /// <summary>The variable naming the Python that has torch (a GPU host's may live in a virtual environment).</summary>
    public const string PythonVariable = "ENGINE_TORCH_PYTHON";

    /// <summary><see cref="PythonVariable"/>, else <c>/usr/bin/python3</c>, else the first <c>python3</c> on PATH; null when there is none.</summary>
    public static string? Python()
    {
        if (Environment.GetEnvironmentVariable(PythonVariable) is { Length: > 0 } set) return set;
        if (File.Exists("/usr/bin/python3")) return "/usr/bin/python3";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "python3");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/>; its last JSON line, or null with <paramref name="note"/> saying why.</summary>
    public static JsonDocument? Run(string script, IEnumerable<string> args, out string note)
    {
        note = "";
        var path = BenchScripts.Find(script);
        var python = Python();
        if (path is null || python is null)
        {
            note = path is null ? $"not available (Samples/bench/{script} not found)" : $"not available (no python3; set {PythonVariable})";
            return null;
        }
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(path);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        process.WaitForExit();
        if (process.ExitCode != 0 || lines.Length == 0 || !lines[^1].StartsWith('{'))
        {
            var why = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
            note = $"not available ({script} exited with {process.ExitCode}{(why.Length > 0 ? ": " + why : "")})";
            return null;
        }
        return JsonDocument.Parse(lines[^1]);
    }
}

/// <summary>Finds the comparison scripts under <c>Samples/bench</c>, above the working directory or the executable.</summary>
internal static class BenchScripts
{
    public static string? Find(string file)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var path = Path.Combine(dir.FullName, "Samples", "bench", file);
                if (File.Exists(path)) return path;
            }
        return null;
    }
}
