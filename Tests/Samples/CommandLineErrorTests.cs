using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// Every command answers a mistake in its options as a new user would want: one line naming the option and the
/// value, exit code 2, and no .NET stack trace (issue 21, section 4). <c>--verbose</c> adds the trace.
/// </summary>
public class CommandLineErrorTests
{
    /// <summary>Bad options for each command, and a word each answer must contain (the option's name).</summary>
    public static readonly (string[] Args, string Names)[] Mistakes =
    [
        (["train", "--model", "nope"], "--model"),
        (["train", "--device", "cuda"], "--device"),
        (["train", "--device", "gpu"], "--device"),
        (["train", "--batch", "0"], "--batch"),
        (["train", "--batch", "abc"], "--batch"),
        (["train", "--lr", "-5"], "--lr"),
        (["train", "--lr", "NaN"], "--lr"),
        (["train", "--epochs", "-1"], "--epochs"),
        (["train", "--epochs", "0"], "--epochs"),
        (["train", "--weight-decay", "-1"], "--weight-decay"),
        (["train", "--warmup-steps", "-3"], "--warmup-steps"),
        (["train", "--label-smoothing", "1.5"], "--label-smoothing"),
        (["train", "--dtype", "f16"], "--dtype"),
        (["train", "--loss", "mse"], "--loss"),
        (["train", "--clip-grad-norm", "0"], "--clip-grad-norm"),
        (["train", "--log-every", "0"], "--log-every"),
        (["train", "--threads", "0"], "--threads"),
        (["train", "--limit-train", "-2"], "--limit-train"),
        (["train", "--data", "imagenet-of-my-dreams"], "--data"),
        (["train", "--data-dir", "/no/such/folder"], "--data-dir"),
        (["train", "--resume", "/no/such/run"], "--resume"),
        (["train", "--no-such-option"], "--no-such-option"),
        (["demo", "--seed", "x"], "--seed"),
        (["bench", "gemm", "--size", "0"], "--size"),
        (["bench", "add", "--repeat", "-1"], "--repeat"),
        (["bench", "ops", "--dtype", "f16"], "--dtype"),
        (["bench", "ops", "--warmup", "-1"], "--warmup"),
        (["bench", "model", "--warmup", "-3"], "--warmup"),
        (["bench", "dct", "--threads", "0"], "--threads"),
        (["bench", "model", "--model", "nope"], "--model"),
        (["bench", "model", "--batch", "0"], "--batch"),
        (["parity", "--golden", "/no/such/golden.safetensors"], "/no/such/golden.safetensors"),
        (["parity", "--golden", "x", "--tolerance", "-1"], "--tolerance"),
        (["parity", "--golden", "x", "--device", "tpu"], "--device"),
        (["explore", "tape", "--model", "nope"], "--model"),
        (["explore", "profile", "--model", "cnn", "--batch", "0"], "--batch"),
        (["explore", "erf", "--model", "cnn", "--images", "0"], "--images"),
        (["explore", "erf", "--model", "cnn", "--scale", "cubic"], "--scale"),
        (["explore", "picture", "--model", "cnn", "--checkpoint", "/no/such/run"], "/no/such/run"),
        (["cuda", "kernels", "--arch", "sm_1"], "--arch"),
    ];

    /// <summary>The command line as on a machine without a GPU: the CUDA emulator the tests load is not passed on.</summary>
    private static readonly Dictionary<string, string> NoGpu = new() { ["ENGINE_CUDA_EMULATOR"] = "" };

    private static bool OnARealGpu => Engine.Backends.Devices.CudaAvailable && !Engine.Cuda.Cuda.IsEmulated;

    private static bool LooksLikeAStackTrace(string text) =>
        text.Contains("Unhandled exception", StringComparison.Ordinal) || text.Contains("   at ", StringComparison.Ordinal)
        || text.Contains("Exception:", StringComparison.Ordinal);

    [CliBuiltFact]
    public void Every_command_answers_a_bad_option_with_one_line_and_exit_code_2()
    {
        var failures = new List<string>();
        foreach (var (args, names) in Mistakes)
        {
            if (OnARealGpu && args.Contains("cuda")) continue;            // there, --device cuda is no mistake
            var (code, stdout, stderr) = EngineProcess.Run(NoGpu, args);
            string all = stdout + stderr, line = string.Join(' ', args);
            if (code != 2) failures.Add($"`{line}`: exit code {code}, expected 2; stderr: {stderr}");
            else if (LooksLikeAStackTrace(all)) failures.Add($"`{line}`: printed a stack trace: {all}");
            else if (!stderr.Contains(names, StringComparison.Ordinal)) failures.Add($"`{line}`: the answer does not name {names}: {stderr}");
            else if (stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => !l.StartsWith("(see:", StringComparison.Ordinal)) > 2)
                failures.Add($"`{line}`: more than two lines for one mistake: {stderr}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary><c>train --epochs -1</c> used to train nothing, exit 0 and write a checkpoint: now nothing is written.</summary>
    [CliBuiltFact]
    public void A_refused_train_writes_nothing()
    {
        var dir = Path.Combine(Path.GetTempPath(), "engine-cli-refused-" + Guid.NewGuid().ToString("N"));
        var (code, _, _) = EngineProcess.Run(NoGpu, "train", "--epochs", "-1", "--out", dir);
        Assert.Equal(2, code);
        Assert.False(Directory.Exists(dir));
    }

    /// <summary>A failure while the command runs (not a bad option) is one line and exit code 1; <c>--verbose</c> shows the trace.</summary>
    [CliBuiltFact]
    public void A_failure_is_one_line_and_verbose_shows_the_trace()
    {
        var dir = Path.Combine(Path.GetTempPath(), "engine-cli-failure-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            // A checkpoint that is not one: the command fails reading it (exit 1 or 2 are both answers; never a crash).
            File.WriteAllBytes(Path.Combine(dir, "checkpoint.safetensors"), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
            var plain = EngineProcess.Run(NoGpu, "train", "--resume", dir);
            Assert.InRange(plain.ExitCode, 1, 2);
            Assert.False(LooksLikeAStackTrace(plain.Stdout + plain.Stderr), plain.Stderr);
            Assert.Contains("checkpoint.safetensors", plain.Stderr, StringComparison.Ordinal);

            var verbose = EngineProcess.Run(NoGpu, "train", "--resume", dir, "--verbose");
            Assert.Equal(plain.ExitCode, verbose.ExitCode);
            Assert.Contains("   at ", verbose.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
