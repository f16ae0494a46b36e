using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Distributed;
using Engine.Models.Distributed;
using Engine.Models.Training;
using Engine.Randomness;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench allreduce</c> (run it under <c>mpirun -np N</c>): the in-place sum all-reduce of 1 K to 64 M floats,
/// with the bandwidths nccl-tests reports: algorithm bandwidth = bytes / time, bus bandwidth = algorithm bandwidth ×
/// 2(n − 1)/n (what each rank's link carries in a ring), so figures compare across world sizes. With <c>--ddp</c>
/// also the data-parallel overhead per training step: each rank times its own step (forward, backward, optimizer)
/// with and without the gradient all-reduce, alternating, in the same process.
/// </summary>
internal static class AllReduceBench
{
    public static Command CreateCommand()
    {
        var backend = new Option<string>("--distributed") { Description = "mpi (under mpirun) or single.", DefaultValueFactory = _ => "mpi" };
        backend.AcceptOnlyFromAmong("mpi", "single");
        var min = new Option<long>("--min") { Description = "Smallest size in floats.", DefaultValueFactory = _ => 1024 };
        var max = new Option<long>("--max") { Description = "Largest size in floats.", DefaultValueFactory = _ => 64L * 1024 * 1024 };
        var iters = new Option<int>("--iters") { Description = "Timed all-reduces per size (after 2 warm-up ones); fewer for sizes over 4 M floats.", DefaultValueFactory = _ => 20 };
        var ddp = new Option<bool>("--ddp") { Description = "Also time vHeat-Nano's training step with and without the gradient all-reduce." };
        var batch = new Option<int>("--batch") { Description = "Per-rank batch of the --ddp step.", DefaultValueFactory = _ => 64 };
        var command = new Command("allreduce", "All-reduce bandwidth over the ranks (bus bandwidth as nccl-tests reports it), and the DDP overhead per step.")
        { backend, min, max, iters, ddp, batch };
        command.SetAction(parse =>
        {
            using var group = ProcessGroups.Create(parse.GetValue(backend)!);
            return Run(group, parse.GetValue(min), parse.GetValue(max), parse.GetValue(iters), parse.GetValue(ddp), parse.GetValue(batch));
        });
        return command;
    }

    private static int Run(ProcessGroup group, long min, long max, int iters, bool ddp, int batch)
    {
        if (min < 1 || max < min) throw new ArgumentException($"bench allreduce: need 1 <= --min <= --max, got {min} and {max}.");
        int n = group.WorldSize;
        var rows = new List<Dictionary<string, object>>();
        if (group.IsMain)
        {
            Console.WriteLine($"all_reduce (sum, in place, f32) over {n} rank(s), backend {group.Backend}; threads per rank {Engine.Cpu.CpuParallel.ThreadCount}");
            Console.WriteLine($"{"floats",12} {"bytes",14} {"time (us)",12} {"algbw (GB/s)",13} {"busbw (GB/s)",13}");
        }
        for (long count = min; count <= max; count *= 4)
        {
            using var t = Tensor.Full([checked((int)count)], 1.0);
            int reps = count > 4L * 1024 * 1024 ? Math.Max(3, iters / 4) : iters;
            for (int w = 0; w < 2; w++) group.AllReduce(t);
            group.Barrier();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < reps; i++) group.AllReduce(t);
            double seconds = clock.Elapsed.TotalSeconds / reps;
            // The slowest rank's time is the collective's time.
            using var worst = Tensor.FromArray(new[] { seconds });
            var gathered = group.AllGather(worst).ToArray<double>().Max();
            double bytes = count * 4.0, alg = bytes / gathered / 1e9, bus = alg * (n > 1 ? 2.0 * (n - 1) / n : 1);
            if (group.IsMain)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count,12} {bytes,14:0} {gathered * 1e6,12:0.0} {alg,13:0.000} {bus,13:0.000}"));
            rows.Add(new() { ["floats"] = count, ["us"] = Math.Round(gathered * 1e6, 1), ["algbw_gbs"] = Math.Round(alg, 4), ["busbw_gbs"] = Math.Round(bus, 4) });
        }
        var result = new Dictionary<string, object?> { ["bench"] = "allreduce", ["world_size"] = n, ["backend"] = group.Backend, ["sizes"] = rows };
        if (ddp) result["ddp"] = DdpOverhead(group, batch);
        if (group.IsMain) Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>Median step times with and without the gradient all-reduce, alternating, on this rank; rank 0's figures (each rank's are alike).</summary>
    private static Dictionary<string, object> DdpOverhead(ProcessGroup group, int batch)
    {
        var shape = new Models.Data.ImageShape(3, 32, 32);
        using var model = Models.Zoo.ModelZoo.Create("vheat-nano", shape, 10, new Generator(1));
        using var ddp = new DistributedDataParallel(model, group);
        using var optimizer = Trainer.CreateOptimizer(model, new TrainOptions());
        using var loss = new TrainingLoss(TrainingLoss.CrossEntropy, 10, Device.Cpu);
        using var images = Tensor.Randn([batch, 3, 32, 32], generator: new Generator((ulong)group.Rank + 2)).DetachFromScope();
        using var labels = Tensor.Zeros([batch], DType.I64).DetachFromScope();
        double Step(bool sync)
        {
            var clock = Stopwatch.StartNew();
            using var scope = Tensor.Scope();
            if (sync)
            {
                loss.Compute(ddp.Call(images), labels, 0.1).Backward();
                ddp.FinishGradientSync();
            }
            else
            {
                using (ddp.NoSync()) loss.Compute(model.Call(images), labels, 0.1).Backward();
            }
            optimizer.Step();
            optimizer.ZeroGrad(setToNone: true);
            return clock.Elapsed.TotalMilliseconds;
        }
        Step(true); Step(false);
        var with = new List<double>();
        var without = new List<double>();
        for (int i = 0; i < 6; i++) { with.Add(Step(true)); without.Add(Step(false)); }
        double w = with.Order().ElementAt(with.Count / 2), wo = without.Order().ElementAt(without.Count / 2);
        if (group.IsMain)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"DDP step of vheat-nano, batch {batch} per rank, {group.WorldSize} rank(s): {w:0.0} ms with the gradient all-reduce, {wo:0.0} ms without (median of 6, alternating): overhead {w - wo:0.0} ms ({(w / wo - 1) * 100:0.0}%)"));
        return new() { ["batch_per_rank"] = batch, ["step_ms_with_sync"] = Math.Round(w, 2), ["step_ms_without_sync"] = Math.Round(wo, 2), ["overhead_ms"] = Math.Round(w - wo, 2) };
    }
}
