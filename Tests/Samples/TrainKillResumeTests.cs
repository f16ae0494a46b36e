using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Engine.Models.Serialization;
using Engine.Tests.Models;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine train</c> killed at any moment (issue 21, part 2): SIGKILL inside a step, an evaluation, between a
/// metrics row and its checkpoint, or halfway through a checkpoint's bytes (the trainer's test hook,
/// <c>ENGINE_TEST_FAULT</c>), or after a random time; restarted with <c>--resume</c> each time; at the end its
/// weights, optimizer state and metrics equal those of a run that was never killed, bit for bit. Also a full disk
/// during a checkpoint write, and SIGTERM / SIGINT.
/// </summary>
public partial class TrainKillResumeTests
{
    /// <summary>Two epochs of five steps of the small CNN on the embedded images, one thread, a checkpoint every two steps.</summary>
    private static string[] Train(string dir) =>
        ["train", "--model", "cnn", "--data", "fashion-mnist-small", "--epochs", "2", "--batch", "32", "--limit-train", "160",
         "--limit-test", "64", "--warmup-steps", "3", "--seed", "7", "--device", "cpu", "--threads", "1", "--checkpoint-every", "2", "--out", dir];

    private static readonly string[] KillPoints = ["step", "eval", "log", "checkpoint"];

    [CliBuiltFact]
    public void Killed_three_times_it_ends_as_a_run_never_killed() => KillAndResume(kills: 3, seed: 21, timedKills: false);

    [CliBuiltFact, Trait("Category", "Slow")]
    public void Killed_twenty_times_at_hooks_and_at_random_times_it_ends_as_a_run_never_killed() => KillAndResume(kills: 20, seed: 2021, timedKills: true);

    private static void KillAndResume(int kills, int seed, bool timedKills)
    {
        string reference = TrainingRunFiles.TempDir("engine-kill-ref-"), killed = TrainingRunFiles.TempDir("engine-kill-");
        try
        {
            var straight = Run(Train(reference));
            Assert.True(straight.ExitCode == 0, straight.Stderr);

            var random = new Random(seed);
            var log = new List<string>();
            for (int k = 0; k < kills; k++)
            {
                string[] args = File.Exists(Path.Combine(killed, "checkpoint.safetensors")) ? ["train", "--resume", killed] : Train(killed);
                (int ExitCode, string Stdout, string Stderr) result;
                if (timedKills && k % 2 == 1)
                {
                    int ms = random.Next(200, 4000);
                    log.Add($"kill after {ms} ms");
                    result = Run(args, killAfter: TimeSpan.FromMilliseconds(ms));
                }
                else
                {
                    string point = KillPoints[random.Next(KillPoints.Length)];
                    int n = random.Next(1, point == "eval" ? 3 : 4);
                    log.Add($"kill:{point}:{n}");
                    result = Run(args, fault: $"kill:{point}:{n}");
                }
                Assert.True(result.ExitCode is 0 or 137, $"{string.Join(", ", log)}: exit code {result.ExitCode}: {result.Stderr}");
                if (result.ExitCode == 0) break;          // the run ended before the kill came
            }
            for (int attempts = 0; ; attempts++)
            {
                Assert.True(attempts < 2, "the unkilled resume did not finish");
                bool resume = File.Exists(Path.Combine(killed, "checkpoint.safetensors"));
                var last = Run(resume ? ["train", "--resume", killed] : Train(killed));
                Assert.True(last.ExitCode == 0, $"{string.Join(", ", log)}: {last.Stderr}");
                if (last.Stdout.Contains("done: 2 epochs", StringComparison.Ordinal)) break;
            }

            AssertSameRun(reference, killed, string.Join(", ", log));
            Assert.Empty(Directory.GetFiles(killed, "*.tmp"));
        }
        finally
        {
            Directory.Delete(reference, true);
            Directory.Delete(killed, true);
        }
    }

    /// <summary>The same rows (all but the timing and memory columns) and the same checkpoint tensors, bit for bit.</summary>
    private static void AssertSameRun(string expected, string actual, string how)
    {
        static string[] Rows(string dir) => File.ReadAllLines(Path.Combine(dir, "metrics.csv"))
            .Select(l => l.Split(',')).Select(c => string.Join(",", c.Take(5).Concat(c.Skip(6).Take(2)))).ToArray();
        Assert.Equal(Rows(expected), Rows(actual));
        var (a, b) = (TrainingRunFiles.CheckpointTensors(expected), TrainingRunFiles.CheckpointTensors(actual));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, values) in a)
            Assert.True(values.SequenceEqual(b[name]), $"{how}: tensor {name} differs from the run never killed");
    }

    /// <summary>The disk fills during the third checkpoint: the run stops with one line naming the file, the second checkpoint is intact, and resuming finishes the run exactly.</summary>
    [CliBuiltFact]
    public void A_full_disk_during_a_checkpoint_stops_the_run_and_keeps_the_previous_checkpoint()
    {
        string reference = TrainingRunFiles.TempDir("engine-disk-ref-"), full = TrainingRunFiles.TempDir("engine-disk-");
        try
        {
            Assert.Equal(0, Run(Train(reference)).ExitCode);
            var stopped = Run(Train(full), fault: "disk-full:1000:3");
            Assert.Equal(1, stopped.ExitCode);
            Assert.Contains(Path.Combine(full, "checkpoint.safetensors"), stopped.Stderr, StringComparison.Ordinal);
            Assert.Contains("No space left on device", stopped.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stopped.Stderr, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFiles(full, "*.tmp"));
            using (var ckpt = Checkpoint.Load(Path.Combine(full, "checkpoint.safetensors")))
                Assert.Equal("4", ckpt.Metadata["step"]);            // the second checkpoint: steps 2 and 4 were saved, 6 failed

            Assert.Equal(0, Run(["train", "--resume", full]).ExitCode);
            AssertSameRun(reference, full, "disk full at the third checkpoint");
        }
        finally
        {
            Directory.Delete(reference, true);
            Directory.Delete(full, true);
        }
    }

    /// <summary>With <c>--on-save-error continue</c> the run trains to its end, saying which checkpoint could not be written.</summary>
    [CliBuiltFact]
    public void A_full_disk_with_on_save_error_continue_trains_on()
    {
        string dir = TrainingRunFiles.TempDir("engine-disk-continue-");
        try
        {
            var run = Run([.. Train(dir), "--on-save-error", "continue"], fault: "disk-full:1000:3");
            Assert.True(run.ExitCode == 0, run.Stderr);
            Assert.Contains("done: 2 epochs, 10 steps", run.Stdout, StringComparison.Ordinal);
            Assert.Contains($"could not write the checkpoint {Path.Combine(dir, "checkpoint.safetensors")}", run.Stdout, StringComparison.Ordinal);
            using var ckpt = Checkpoint.Load(Path.Combine(dir, "checkpoint.safetensors"));
            Assert.Equal("4", ckpt.Metadata["step"]);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>SIGTERM or SIGINT: a checkpoint at the next step boundary, then exit code 0.</summary>
    [CliBuiltFact]
    public void Sigterm_and_sigint_save_a_checkpoint_and_exit_0()
    {
        foreach (var signal in new[] { 15, 2 })
        {
            string dir = TrainingRunFiles.TempDir("engine-signal-");
            try
            {
                var args = Train(dir).ToArray();
                args[Array.IndexOf(args, "--epochs") + 1] = "40";            // long enough that the signal comes mid-run
                var start = Start(args, fault: null);
                string metrics = Path.Combine(dir, "metrics.jsonl");
                var clock = Stopwatch.StartNew();
                while (!(File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 3) && !start.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2))
                    Thread.Sleep(50);
                Assert.False(start.HasExited, "the run ended before the signal");
                Assert.Equal(0, Kill(start.Id, signal));
                var (code, stdout, stderr) = Finish(start);
                Assert.True(code == 0, $"signal {signal}: exit code {code}: {stderr}");
                Assert.Contains("stopped at step", stdout, StringComparison.Ordinal);
                using (var ckpt = Checkpoint.Load(Path.Combine(dir, "checkpoint.safetensors")))
                    Assert.True(long.Parse(ckpt.Metadata["step"], CultureInfo.InvariantCulture) >= 3);
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private static Process Start(string[] args, string? fault)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliBuiltFactAttribute.EngineDll!);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["ENGINE_TEST_FAULT"] = fault ?? "";
        return Process.Start(start)!;
    }

    private static (int ExitCode, string Stdout, string Stderr) Finish(Process process, TimeSpan? killAfter = null)
    {
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (killAfter is { } wait && !process.WaitForExit(wait)) process.Kill();      // SIGKILL
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(string[] args, string? fault = null, TimeSpan? killAfter = null)
    {
        using var process = Start(args, fault);
        return Finish(process, killAfter);
    }
}
