using System.Diagnostics;
using System.Text.Json;

namespace Engine.Tests.Samples;

/// <summary>
/// The built command line (<c>engine.dll</c> beside these tests) run in its own process, as a user runs it: the
/// one way every CLI test starts it, so that each test states only its arguments and what it expects.
/// </summary>
internal static class EngineProcess
{
    /// <summary>Runs <c>engine <paramref name="args"/></c> and returns its exit code and both streams, read whole.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => Run(null, args);

    /// <summary>As <see cref="Run(string[])"/>, with <paramref name="environment"/> added to the child's environment.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliBuiltFactAttribute.EngineDll!);
        foreach (var a in args) start.ArgumentList.Add(a);
        if (environment is not null)
            foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        // Both streams drain at once: a child that fills the unread one would block forever.
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>The last non-empty line of <paramref name="stdout"/>, parsed: every command ends with one JSON line.</summary>
    public static JsonElement LastJsonLine(string stdout) =>
        JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement.Clone();
}
