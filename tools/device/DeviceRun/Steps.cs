using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Engine.Tools.DeviceRun;

/// <summary>
/// One line of <c>tools/device/steps.txt</c>: a name, a timeout in seconds, what it needs (<c>-</c>, <c>cuda</c>
/// = a GPU or the emulator, <c>gpu</c> = a real GPU), and a bash command, which ends with one JSON line.
/// </summary>
internal sealed record Step(string Name, int TimeoutSeconds, IReadOnlyList<string> Needs, string Command)
{
    /// <summary>The needs a step may name.</summary>
    public static readonly string[] KnownNeeds = ["cuda", "gpu"];

    /// <summary>Why this step cannot run on a device of <paramref name="kind"/> (gpu, emulator, none); null when it can.</summary>
    public string? Unmet(string kind, string deviceSummary)
    {
        if (Needs.Contains("gpu") && kind != "gpu")
            return kind == "emulator" ? "needs a real GPU; this run is on the CUDA emulator" : $"needs a real GPU; {deviceSummary}";
        if (Needs.Contains("cuda") && kind == "none") return deviceSummary;
        return null;
    }
}

/// <summary>Reads the steps file: one step a line, <c>#</c> starts a comment.</summary>
internal static partial class StepFile
{
    [GeneratedRegex(@"^(?<name>\S+)\s+(?<timeout>\S+)\s+(?<needs>\S+)\s+(?<command>.+)$")]
    private static partial Regex Line();

    [GeneratedRegex(@"^[A-Za-z0-9._-]+$")]
    private static partial Regex Name();

    /// <summary>The steps of <paramref name="text"/>; a malformed line is an error naming its number, before anything runs.</summary>
    public static List<Step> Parse(string text)
    {
        var steps = new List<Step>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string Where() => $"steps line {i + 1} ('{line}')";
            var m = Line().Match(line);
            if (!m.Success) throw new ArgumentException($"{Where()}: expected 'name timeout needs command'.");
            var name = m.Groups["name"].Value;
            if (!Name().IsMatch(name)) throw new ArgumentException($"{Where()}: a name is letters, digits, '.', '_' and '-'.");
            if (steps.Any(s => s.Name == name)) throw new ArgumentException($"{Where()}: a second step named '{name}'.");
            if (!int.TryParse(m.Groups["timeout"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int timeout) || timeout < 1)
                throw new ArgumentException($"{Where()}: the timeout is a whole number of seconds.");
            var needs = m.Groups["needs"].Value == "-" ? [] : m.Groups["needs"].Value.Split(',');
            if (needs.FirstOrDefault(n => !Step.KnownNeeds.Contains(n)) is { } unknown)
                throw new ArgumentException($"{Where()}: unknown need '{unknown}' (known: -, {string.Join(", ", Step.KnownNeeds)}).");
            steps.Add(new Step(name, timeout, needs, m.Groups["command"].Value.Trim()));
        }
        return steps;
    }
}

/// <summary>How a step ended.</summary>
internal enum StepStatus { Passed, Failed, Skipped }

/// <summary>A step's outcome: what the table shows and what figures.json keeps.</summary>
internal sealed record StepResult(Step Step, StepStatus Status, double Seconds, int? ExitCode, bool TimedOut, string Notes, string Target, JsonElement? Json)
{
    /// <summary>The exit code by which a command says "skipped" when it prints no JSON (the automake convention).</summary>
    public const int SkipExitCode = 77;

    /// <summary>A step that was not started, and why.</summary>
    public static StepResult NotRun(Step step, string reason) => new(step, StepStatus.Skipped, 0, null, false, reason, "", null);

    /// <summary>
    /// Classifies a finished (or killed) command. A JSON line with <c>skipped</c>, or exit code 77, is a skip;
    /// exit 0 is a pass; anything else, or a timeout, is a failure. The notes are the JSON's <c>summary</c>
    /// (its <c>error</c> or <c>skipped</c> reason first when it has one), else the last line of stderr.
    /// </summary>
    public static StepResult From(Step step, int exitCode, bool timedOut, double seconds, JsonElement? json, string? lastError)
    {
        string? Field(string name) => json is { } j && j.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        string target = json is { } jt && jt.TryGetProperty("target_met", out var met)
            ? met.ValueKind switch { JsonValueKind.True => "met", JsonValueKind.False => "MISSED", _ => "" } : "";
        if (timedOut)
            return new(step, StepStatus.Failed, seconds, exitCode, true, $"timed out after {seconds:F0} s" + (lastError is null ? "" : $"; last error line: {lastError}"), "", json);
        if (Field("skipped") is { } skipped)
            return new(step, StepStatus.Skipped, seconds, exitCode, false, skipped, "", json);
        if (exitCode == 0)
            return new(step, StepStatus.Passed, seconds, 0, false, Field("summary") ?? "exit 0", target, json);
        if (exitCode == SkipExitCode)
            return new(step, StepStatus.Skipped, seconds, exitCode, false, Field("reason") ?? lastError ?? "skipped (exit 77)", "", json);
        var why = Field("error") ?? Field("summary") ?? lastError ?? "no message";
        return new(step, StepStatus.Failed, seconds, exitCode, false, $"exit {exitCode}: {why}", target, json);
    }
}
