using System.Diagnostics;
using Engine.Fuzz;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>
/// The fuzz targets of issue 21 (Tests/Fuzz/FuzzTargets.cs) on fixed inputs: every seed of the corpus, every
/// crash the fuzzer found (minimised, in Tests/Data/fuzz/TARGET/), and hand-made hostile files (sizes far beyond the
/// file). Each must give a result or the reader's own exception, never anything else. The Slow test runs AFL++.
/// </summary>
public class FuzzRegressionTests
{
    /// <summary>The repository's root (the folder holding Engine.sln), found from the test assembly's folder.</summary>
    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Engine.sln above {AppContext.BaseDirectory}");
    }

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Keys];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Seeds_and_found_crashes_give_a_result_or_the_readers_exception(string target)
    {
        var files = new[] { Path.Combine(RepoRoot(), "Tests", "Fuzz", "corpus", target), Path.Combine(AppContext.BaseDirectory, "Data", "fuzz", target) }
            .Where(Directory.Exists).SelectMany(Directory.GetFiles).ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            // Run throws whatever the target lets out; a test failure here names the file.
            var outcome = Record.Exception(() => FuzzTargets.Run(target, File.ReadAllBytes(file)));
            Assert.True(outcome is null, $"{target} on {file}: {outcome}");
        }
    }

    /// <summary>Size fields far beyond the file: refused from the file's length, before anything is allocated.</summary>
    [Fact]
    public void Huge_sizes_in_a_header_are_refused_before_allocation()
    {
        byte[] idx = [0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3];
        Assert.IsType<InvalidDataException>(FuzzTargets.Run("idx", idx));
        // A safetensors header length of 2^62 bytes, and one tensor claiming 2^40 elements in a 100-byte file.
        byte[] hugeHeader = [0, 0, 0, 0, 0, 0, 0, 0x40, (byte)'{', (byte)'}'];
        Assert.NotNull(FuzzTargets.Run("safetensors", hugeHeader));
        var json = """{"t":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,4398046511104]}}"""u8.ToArray();
        var bytes = BitConverter.GetBytes((long)json.Length).Concat(json).Concat(new byte[16]).ToArray();
        Assert.NotNull(FuzzTargets.Run("safetensors", bytes));
    }

    /// <summary>Each target fuzzed by AFL++ for 20 seconds (Tests/Fuzz/run.sh): no crash, no hang.</summary>
    [AflFact, Trait("Category", "Slow")]
    public void Each_target_survives_twenty_seconds_of_afl()
    {
        var script = Path.Combine(RepoRoot(), "Tests", "Fuzz", "run.sh");
        var failures = new List<string>();
        foreach (var target in FuzzTargets.All.Keys)
        {
            var start = new ProcessStartInfo(script, [target, "20"]) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["FUZZ_WORK"] = Path.Combine(Path.GetTempPath(), "engine-fuzz-slow");
            using var p = Process.Start(start)!;
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) failures.Add($"{target}: exit code {p.ExitCode}: {output} {err.Result}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}

/// <summary>A fact that is skipped, saying why, where afl-fuzz is not installed.</summary>
public sealed class AflFactAttribute : FactAttribute
{
    public AflFactAttribute()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        if (!path.Split(':').Any(d => File.Exists(Path.Combine(d, "afl-fuzz"))))
            Skip = "skipped: afl-fuzz is not installed (Debian: apt-get install afl++; .ci/run installs it for the Slow job)";
    }
}
