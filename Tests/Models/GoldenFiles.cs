using Xunit;

namespace Engine.Tests.Models;

/// <summary>
/// Where the golden files written by Python are: copies under <c>Tests/Data/golden</c> (always there,
/// copied next to the test assembly), and the whole shared tree at <c>../shared/golden</c> next to the
/// repository (present in CI; <c>ENGINE_SHARED_GOLDEN</c> overrides the location).
/// </summary>
public static class GoldenFiles
{
    /// <summary>A golden file copied into the repository, by its path under <c>golden/</c>.</summary>
    public static string Copied(string relative) => Path.Combine(AppContext.BaseDirectory, "Data", "golden", relative);

    /// <summary>Runs the copied golden <paramref name="relative"/> through the parity runner and the model registry.</summary>
    public static Engine.Models.Parity.ParityReport Parity(string relative, DType dtype)
    {
        using var golden = Engine.Models.Parity.GoldenCase.Load(Copied(relative));
        return Engine.Models.Parity.ParityRunner.Run(golden, dtype);
    }

    /// <summary>The shared golden directory, or null when it is not there.</summary>
    public static string? SharedRoot { get; } = FindShared();

    private static string? FindShared()
    {
        if (Environment.GetEnvironmentVariable("ENGINE_SHARED_GOLDEN") is { Length: > 0 } env)
            return Directory.Exists(env) ? env : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) continue;
            var shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "golden"));
            return Directory.Exists(shared) ? shared : null;
        }
        return null;
    }
}

/// <summary>A test that reads the shared golden tree: skipped, with the reason, where it is absent.</summary>
public sealed class SharedGoldenFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when <see cref="GoldenFiles.SharedRoot"/> is missing.</summary>
    public SharedGoldenFactAttribute()
    {
        if (GoldenFiles.SharedRoot is null)
            Skip = "skipped: no ../shared/golden next to the repository (set ENGINE_SHARED_GOLDEN to point at one)";
    }
}
