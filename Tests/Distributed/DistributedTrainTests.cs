using System.Globalization;
using System.Text.RegularExpressions;
using Engine.Tests.Samples;
using Xunit;

namespace Engine.Tests.Distributed;

/// <summary><c>train --distributed mpi</c> under mpirun: stopping and resuming on another world size, and one epoch's accuracy against one process.</summary>
[Trait("Category", "Mpi")]
public class DistributedTrainTests
{
    private static string Output(string stdout, string stderr) => $"stdout:\n{stdout}\nstderr:\n{stderr}";

    [MpiFact]
    public void Two_ranks_stop_together_and_one_process_resumes_the_run()
    {
        string dir = Directory.CreateTempSubdirectory("ddp-train-").FullName;
        try
        {
            // 256 images in batches of 32 per rank: 4 steps per epoch on 2 ranks, 8 on one.
            var (c2, o2, e2, _) = MpiRun.Run(2, TimeSpan.FromSeconds(300), "train", "--distributed", "mpi", "--epochs", "2", "--batch", "32",
                "--limit-train", "256", "--limit-test", "64", "--stop-after-steps", "3", "--out", dir);
            Assert.True(c2 == 0, Output(o2, e2));
            Assert.Contains("distributed: mpi, 2 ranks, batch 32 per rank (64 global), 4 steps per epoch", o2);
            Assert.Single(Regex.Matches(o2, "stopped at step 3")); // rank 0 alone reports and saves
            Assert.True(File.Exists(Path.Combine(dir, "checkpoint.safetensors")));

            var (c1, o1, e1) = EngineProcess.Run("train", "--resume", dir);
            Assert.True(c1 == 0, Output(o1, e1));
            Assert.Contains("the run was saved by 2 ranks and resumes on 1: batch 3 of the epoch becomes batch 6", o1);
            Assert.Contains("done: 2 epochs", o1);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [MpiFact]
    [Trait("Category", "Slow")]
    public void One_epoch_of_vheat_nano_on_two_ranks_reaches_the_single_process_accuracy_within_half_a_point()
    {
        string dir = Directory.CreateTempSubdirectory("ddp-acc-").FullName;
        try
        {
            // The same global batch (128) and seed: 2 ranks x 64 against 1 process x 128.
            var (c2, o2, e2, _) = MpiRun.Run(2, TimeSpan.FromSeconds(900), "train", "--distributed", "mpi", "--epochs", "1", "--batch", "64", "--out", Path.Combine(dir, "ddp"));
            Assert.True(c2 == 0, Output(o2, e2));
            var (c1, o1, e1) = EngineProcess.Run("train", "--epochs", "1", "--batch", "128", "--out", Path.Combine(dir, "single"));
            Assert.True(c1 == 0, Output(o1, e1));
            double ddp = Accuracy(o2), single = Accuracy(o1);
            Assert.True(Math.Abs(ddp - single) <= 0.5, $"DDP {ddp:0.00}% against one process {single:0.00}%");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static double Accuracy(string stdout) =>
        double.Parse(Regex.Match(stdout, @"done: .* test top-1 ([0-9.]+)%").Groups[1].Value, CultureInfo.InvariantCulture);
}
