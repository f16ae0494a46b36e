using System.Diagnostics;
using System.Text.Json;
using Engine.Tests.Support;
using Engine.Tools.DeviceRun;
using Xunit;

namespace Engine.Tests.Tools;

/// <summary>
/// The device script's runner (tools/device/DeviceRun), cheaply: the steps file, how a command's exit code and
/// JSON line become passed / failed / skipped, a real run of small bash steps (a pass, a failure, a timeout, a
/// skip, an unmet need) with its table and files, and the selection of GPU tests.
/// </summary>
public class DeviceRunTests
{
    private static readonly Step AStep = new("s", 10, [], "true");

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public void StepsFileReadsNameTimeoutNeedsAndTheRestAsTheCommand()
    {
        var steps = StepFile.Parse("# comment\n\n gemm  90  cuda  engine bench gemm --size $GEMM_N --torch \nlog 5 - echo '{\"a\": 1}' # not a comment\nm 7 cuda,gpu x");
        Assert.Equal(3, steps.Count);
        Assert.Equal(("gemm", 90, "engine bench gemm --size $GEMM_N --torch"), (steps[0].Name, steps[0].TimeoutSeconds, steps[0].Command));
        Assert.Equal(["cuda"], steps[0].Needs);
        Assert.Empty(steps[1].Needs);
        Assert.Equal("echo '{\"a\": 1}' # not a comment", steps[1].Command);
        Assert.Equal(["cuda", "gpu"], steps[2].Needs);
    }

    [Theory]
    [InlineData("a 10 -", "expected 'name timeout needs command'")]
    [InlineData("a 0 - x", "whole number of seconds")]
    [InlineData("a 1m - x", "whole number of seconds")]
    [InlineData("a 1 tpu x", "unknown need 'tpu'")]
    [InlineData("a/b 1 - x", "a name is letters")]
    [InlineData("a 1 - x\na 2 - y", "a second step named 'a'")]
    public void AMalformedStepsFileIsRefusedBeforeAnythingRuns(string text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => StepFile.Parse(text));
        Assert.Contains(message, e.Message);
        Assert.Contains("steps line", e.Message);
    }

    [Fact]
    public void NeedsAreMetOnlyByTheRightDevice()
    {
        var cuda = AStep with { Needs = ["cuda"] };
        var gpu = AStep with { Needs = ["gpu"] };
        Assert.Null(cuda.Unmet("gpu", ""));
        Assert.Null(cuda.Unmet("emulator", ""));
        Assert.Equal("no CUDA device: no driver", cuda.Unmet("none", "no CUDA device: no driver"));
        Assert.Null(gpu.Unmet("gpu", ""));
        Assert.Contains("CUDA emulator", gpu.Unmet("emulator", ""));
        Assert.Contains("needs a real GPU", gpu.Unmet("none", "no CUDA device"));
        Assert.Null(AStep.Unmet("none", ""));
    }

    [Fact]
    public void ExitCodesAndJsonLinesBecomeStatuses()
    {
        var passed = StepResult.From(AStep, 0, false, 1, Json("""{"summary": "48 TFLOP/s", "target_met": true}"""), null);
        Assert.Equal((StepStatus.Passed, "48 TFLOP/s", "met"), (passed.Status, passed.Notes, passed.Target));
        var missed = StepResult.From(AStep, 0, false, 1, Json("""{"target_met": false}"""), null);
        Assert.Equal((StepStatus.Passed, "exit 0", "MISSED"), (missed.Status, missed.Notes, missed.Target));
        var skippedByJson = StepResult.From(AStep, 2, false, 1, Json("""{"skipped": "no CUDA device"}"""), "ignored");
        Assert.Equal((StepStatus.Skipped, "no CUDA device"), (skippedByJson.Status, skippedByJson.Notes));
        var skippedByCode = StepResult.From(AStep, 77, false, 1, null, "compute-sanitizer not found");
        Assert.Equal((StepStatus.Skipped, "compute-sanitizer not found"), (skippedByCode.Status, skippedByCode.Notes));
        var failed = StepResult.From(AStep, 1, false, 1, Json("""{"error": "no CUDA kernel for matmul", "summary": "x"}"""), "stderr");
        Assert.Equal((StepStatus.Failed, "exit 1: no CUDA kernel for matmul"), (failed.Status, failed.Notes));
        var crashed = StepResult.From(AStep, 134, false, 1, null, "Aborted");
        Assert.Equal((StepStatus.Failed, "exit 134: Aborted"), (crashed.Status, crashed.Notes));
        // A timeout is a failure even when the command printed a JSON line saying it passed.
        var late = StepResult.From(AStep, 137, true, 10, Json("""{"summary": "fine"}"""), null);
        Assert.Equal(StepStatus.Failed, late.Status);
        Assert.StartsWith("timed out after 10 s", late.Notes);
    }

    [Fact]
    public void ARunKeepsGoingPastFailuresAndTimeoutsAndWritesItsTableAndFiles()
    {
        var dir = Directory.CreateTempSubdirectory("devicerun-test-").FullName;
        try
        {
            var steps = StepFile.Parse("""
                ok      10  -    echo working; echo '{"summary": "fine", "target_met": false}'
                fails   10  -    echo 'oops: no kernel' >&2; exit 3
                slow    1   -    sleep 30; echo '{"summary": "never"}'
                skips   10  -    echo '{"skipped": "no sanitizer"}'; exit 77
                gpu     10  gpu  echo should not run
                env     10  -    echo "{\"summary\": \"kind=$DEVICE_KIND step=$DEVICE_STEP\"}"
                """);
            var device = new Dictionary<string, object?> { ["kind"] = "none", ["summary"] = "no CUDA device: test" };
            var report = new Report(dir, "test run", device, 60);
            var clock = Stopwatch.StartNew();
            var results = StepRunner.RunSteps(steps, report, 60, TextWriter.Null);
            Assert.InRange(clock.Elapsed.TotalSeconds, 0, 15);
            Assert.Equal([StepStatus.Passed, StepStatus.Failed, StepStatus.Failed, StepStatus.Skipped, StepStatus.Skipped, StepStatus.Passed],
                results.Select(r => r.Status));
            Assert.Equal("MISSED", results[0].Target);
            Assert.Equal("exit 3: oops: no kernel", results[1].Notes);
            Assert.True(results[2].TimedOut);
            Assert.InRange(results[2].Seconds, 0.9, 10);
            Assert.Equal("no sanitizer", results[3].Notes);
            Assert.Contains("needs a real GPU", results[4].Notes);
            Assert.Equal("kind=none step=env", results[5].Notes);

            var table = File.ReadAllText(Path.Combine(dir, "table.txt"));
            Assert.Equal(table, report.Table(results));
            Assert.Contains("device: no CUDA device: test", table);
            Assert.Contains("6 steps: 2 passed, 2 failed, 2 skipped", table);
            using var figures = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "figures.json")));
            var first = figures.RootElement.GetProperty("steps")[0];
            Assert.Equal("passed", first.GetProperty("status").GetString());
            Assert.Equal("fine", first.GetProperty("json").GetProperty("summary").GetString());
            Assert.Equal(2, figures.RootElement.GetProperty("counts").GetProperty("failed").GetInt32());
            var log = File.ReadAllText(Path.Combine(dir, "run.log"));
            Assert.Contains("working", log);
            Assert.Contains("! oops: no kernel", log);
            Assert.DoesNotContain("should not run", log);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AStepIsNotStartedOnceTheBudgetIsSpent()
    {
        var dir = Directory.CreateTempSubdirectory("devicerun-test-").FullName;
        try
        {
            var steps = StepFile.Parse("first 30 - sleep 30\nsecond 30 - echo '{\"summary\": \"ran\"}'");
            var report = new Report(dir, "budget", new() { ["kind"] = "gpu", ["summary"] = "a GPU" }, 2);
            var results = StepRunner.RunSteps(steps, report, 2, TextWriter.Null, minimumSeconds: 1);
            Assert.True(results[0].TimedOut);
            Assert.InRange(results[0].Seconds, 1.9, 7);
            Assert.Equal(StepStatus.Skipped, results[1].Status);
            Assert.Contains("budget", results[1].Notes);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ATestRunIsSkippedWhenNothingRanAndFailedWhenATestFailed()
    {
        var allSkipped = new TestSummary(2);
        allSkipped.Skipped("skipped: no CUDA device");
        allSkipped.Skipped("skipped: no CUDA device");
        Assert.Equal(StepResult.SkipExitCode, allSkipped.ExitCode);
        Assert.Equal("all 2 selected tests skipped: skipped: no CUDA device", allSkipped.Json()["skipped"]);
        var none = new TestSummary(0);
        Assert.Equal(StepResult.SkipExitCode, none.ExitCode);
        var mixed = new TestSummary(3);
        mixed.Passed();
        mixed.Skipped("why");
        Assert.Equal(0, mixed.ExitCode);
        Assert.False(mixed.Json().ContainsKey("skipped"));
        mixed.Failed("T.M", "boom");
        Assert.Equal(1, mixed.ExitCode);
        Assert.Contains("first failure: T.M: boom", mixed.Line());
    }

    [Fact]
    public void GpuTestsAreTheOnesWithAGpuFactLikeAttribute()
    {
        Assert.True(TestRunner.IsGpuAttribute(typeof(GpuFactAttribute)));
        Assert.False(TestRunner.IsGpuAttribute(typeof(FactAttribute)));
        Assert.False(TestRunner.IsGpuAttribute(typeof(GpuLookalikeAttribute)));
    }

    [Fact]
    public void TheRuntimeClosureKeepsWhatTheAppReachesAndDropsTheDebugger()
    {
        var framework = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var files = RuntimeClosure.Files(framework, AppContext.BaseDirectory);
        foreach (var kept in new[] { "System.Private.CoreLib.dll", "System.Text.Json.dll", "System.Diagnostics.StackTrace.dll", "libcoreclr.so", "libclrjit.so" })
            Assert.Contains(kept, files);
        foreach (var dropped in new[] { "libmscordaccore.so", "libmscordbi.so", "Microsoft.VisualBasic.Core.dll" })
            Assert.DoesNotContain(dropped, files);
    }

    [Fact]
    public void SanitizerArgumentsAreStrippedForTheInnerRun()
    {
        Assert.Equal(["tests", "--gpu", "--max", "4"], Sanitizer.Strip(["tests", "--gpu", "--sanitizer", "memcheck", "--max", "4", "--json-file", "x"], "--sanitizer", "--json-file"));
    }

    /// <summary>Named like a GPU test attribute but not an xUnit fact: not a GPU test.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    private sealed class GpuLookalikeAttribute : Attribute;
}
