using Engine.Models.Serialization;
using Engine.Tests.Samples;
using Xunit;

namespace Engine.Tests.Distributed;

/// <summary>
/// Two ranks on loopback under mpirun: the collectives, one data-parallel step against one process on the whole
/// batch, and how a lost, stalled or disagreeing rank makes the others fail.
/// </summary>
[Trait("Category", "Mpi")]
public class MpiTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);

    private static string Output(string stdout, string stderr) => $"stdout:\n{stdout}\nstderr:\n{stderr}";

    [MpiFact]
    public void Every_collective_on_every_dtype_agrees_on_two_ranks()
    {
        var (code, stdout, stderr, _) = MpiRun.Run(2, Limit, "distributed", "check");
        Assert.True(code == 0, Output(stdout, stderr));
        // A rank's line may follow the terminal codes .NET writes at start; each JSON object starts at its "rank".
        var lines = stdout.Split('\n').Select(l => l.IndexOf("{\"rank\"", StringComparison.Ordinal) is int at and >= 0 ? l[at..] : null)
            .OfType<string>().ToList();
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.Contains("\"world_size\":2", l));
        Assert.All(lines, l => Assert.Contains("\"passed\":true", l));
        Assert.Contains(lines, l => l.Contains("\"local_rank\":1", StringComparison.Ordinal));
    }

    [MpiFact]
    public void Ddp_step_of_two_ranks_of_32_equals_one_process_of_64_for_vheat_nano() =>
        AssertStepsEqual("vheat-nano", syncBatchNorm: false);

    [MpiFact]
    public void Ddp_step_under_sync_batchnorm_equals_one_process_for_affnet_nano() =>
        AssertStepsEqual("affnet-nano", syncBatchNorm: true);

    private static void AssertStepsEqual(string model, bool syncBatchNorm)
    {
        string dir = Directory.CreateTempSubdirectory("ddp-step-").FullName;
        try
        {
            string single = Path.Combine(dir, "single.safetensors"), ddp = Path.Combine(dir, "ddp.safetensors");
            string[] common = ["distributed", "step", "--model", model, "--images", "64", "--dtype", "f64", "--optimizer", "sgd", .. (syncBatchNorm ? new[] { "--sync-batchnorm" } : [])];
            // Small buckets, so that several all-reduces start inside the backward.
            var (c2, o2, e2, _) = MpiRun.Run(2, Limit, [.. common, "--bucket-mb", "0.25", "--out", ddp]);
            Assert.True(c2 == 0, Output(o2, e2));
            Assert.Contains("\"local_batch\":32", o2);
            var (c1, o1, e1) = EngineProcess.Run([.. common, "--distributed", "single", "--out", single]);
            Assert.True(c1 == 0, Output(o1, e1));
            Assert.Contains("\"local_batch\":64", o1);

            using var a = SafeTensors.Read(single);
            using var b = SafeTensors.Read(ddp);
            var names = a.Tensors.Keys.Order().ToList();
            Assert.Equal(names, b.Tensors.Keys.Order().ToList());
            Assert.Contains(names, n => n.StartsWith("grad.", StringComparison.Ordinal));
            double worst = 0;
            string worstName = "";
            foreach (var name in names)
            {
                var x = a[name].ToArray<double>();
                var y = b[name].ToArray<double>();
                Assert.Equal(x.Length, y.Length);
                double scale = Math.Max(1e-3, x.Max(Math.Abs));
                for (int i = 0; i < x.Length; i++)
                {
                    double err = Math.Abs(x[i] - y[i]) / scale;
                    if (err > worst) (worst, worstName) = (err, name);
                }
            }
            Assert.True(worst <= 1e-12, $"{model}: largest difference {worst:E2} (relative to the tensor's largest value) in {worstName}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [MpiFact]
    public void A_rank_killed_mid_step_makes_the_job_exit_non_zero_naming_it_within_60_s()
    {
        // By default mpirun itself sees the rank die, ends the others and names it.
        var (code, stdout, stderr, elapsed) = MpiRun.Run(2, TimeSpan.FromSeconds(120), "distributed", "step", "--die-rank", "1", "--timeout", "20");
        Assert.True(code != 0, Output(stdout, stderr));
        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"took {elapsed.TotalSeconds:0.0} s\n{Output(stdout, stderr)}");
        Assert.Contains("process rank 1 with PID", stdout + stderr);
    }

    [MpiFact]
    public void A_rank_killed_mid_step_is_named_by_the_survivor_when_mpirun_lets_it_run()
    {
        // With mpirun told not to abort, the survivor's all-reduce times out and names the lost rank and its pid.
        var (code, stdout, stderr, elapsed) = MpiRun.RunWith(["--mca", "orte_abort_on_non_zero_status", "0"], 2, TimeSpan.FromSeconds(120),
            "distributed", "step", "--die-rank", "1", "--timeout", "5");
        Assert.True(code != 0, Output(stdout, stderr));
        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"took {elapsed.TotalSeconds:0.0} s\n{Output(stdout, stderr)}");
        Assert.Matches(@"rank 0: all_reduce of a \d+-element gradient bucket failed: it did not complete within 5 s; lost rank 1 \(pid \d+ on ", stderr);
    }

    [MpiFact]
    public void A_stalled_rank_makes_the_other_fail_after_the_timeout_naming_it()
    {
        var (code, stdout, stderr, elapsed) = MpiRun.Run(2, TimeSpan.FromSeconds(120), "distributed", "check", "--stall-rank", "1", "--timeout", "3");
        Assert.True(code != 0, Output(stdout, stderr));
        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"took {elapsed.TotalSeconds:0.0} s\n{Output(stdout, stderr)}");
        Assert.Contains("rank 0: all_reduce", stderr);
        Assert.Contains("did not complete within 3 s; rank 1 did not join it", stderr);
    }

    [MpiFact]
    public void Bench_allreduce_reports_each_size_with_bus_bandwidth()
    {
        var (code, stdout, stderr, _) = MpiRun.Run(2, Limit, "bench", "allreduce", "--min", "1024", "--max", "4096", "--iters", "3");
        Assert.True(code == 0, Output(stdout, stderr));
        var json = EngineProcess.LastJsonLine(stdout);
        Assert.Equal(2, json.GetProperty("world_size").GetInt32());
        var sizes = json.GetProperty("sizes").EnumerateArray().ToList();
        Assert.Equal(new long[] { 1024, 4096 }, sizes.Select(s => s.GetProperty("floats").GetInt64()));
        // nccl-tests' bus bandwidth: algbw x 2(n-1)/n, which is algbw itself for 2 ranks.
        Assert.All(sizes, s => Assert.Equal(s.GetProperty("algbw_gbs").GetDouble(), s.GetProperty("busbw_gbs").GetDouble()));
        Assert.All(sizes, s => Assert.True(s.GetProperty("us").GetDouble() > 0));
    }

    [MpiFact]
    public void Debug_checks_name_the_mismatched_shapes_of_both_ranks()
    {
        var (code, stdout, stderr, _) = MpiRun.Run(2, Limit, "distributed", "check", "--debug-checks", "--mismatch", "--timeout", "30");
        Assert.True(code != 0, Output(stdout, stderr));
        Assert.Contains("ranks disagree (debug check)", stderr);
        Assert.Contains("shape [15]", stderr);
        Assert.Contains("shape [3, 5]", stderr);
    }
}
