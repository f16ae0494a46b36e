using System.CommandLine;
using System.Globalization;
using Engine.Distributed;

namespace Engine.Samples.Cli.Distributed;

/// <summary>
/// <c>engine distributed check</c>: run under a launcher (<c>mpirun -np N engine distributed check</c>) it checks
/// every collective of the process group on every dtype, in place and out of place, against values each rank
/// computes by itself, and prints one JSON line per rank; exit 1 on a wrong value. Its <c>--die-rank</c> and
/// <c>--stall-rank</c> options make one rank die or hang before a collective, to see how the others fail.
/// </summary>
internal static class DistributedCommand
{
    public static Command Create()
    {
        var command = new Command("distributed", "Data-parallel process groups: check the launcher and the collectives.");
        command.Add(CreateCheck());
        command.Add(DistributedStep.Create());
        return command;
    }

    private static Command CreateCheck()
    {
        var backend = new Option<string>("--distributed") { Description = "mpi, or single (world size 1).", DefaultValueFactory = _ => "mpi" };
        backend.AcceptOnlyFromAmong("mpi", "single");
        var die = new Option<int?>("--die-rank") { Description = "This rank kills itself (SIGKILL) before the first collective." };
        var stall = new Option<int?>("--stall-rank") { Description = "This rank sleeps instead of joining the first collective." };
        var timeout = new Option<double?>("--timeout") { Description = "Seconds a collective waits for the others before failing." };
        var debug = new Option<bool>("--debug-checks") { Description = "All-reduce a header before each collective to detect mismatched shapes/dtypes." };
        var mismatch = new Option<bool>("--mismatch") { Description = "Rank 1 all-reduces a tensor of another shape (shows the debug check's error)." };
        var check = new Command("check", "Check every collective on every dtype across the ranks; exit 1 on a wrong value.") { backend, die, stall, timeout, debug, mismatch };
        check.SetAction(parse =>
        {
            using var group = ProcessGroups.Create(parse.GetValue(backend)!);
            if (parse.GetValue(timeout) is { } t) group.Timeout = TimeSpan.FromSeconds(t);
            group.DebugChecks = parse.GetValue(debug);
            return Run(group, () => Check(group, parse.GetValue(die), parse.GetValue(stall), parse.GetValue(mismatch)));
        });
        return check;
    }

    /// <summary>Runs <paramref name="body"/>; a failed collective prints its message and aborts the job with exit code 1 (MPI_Finalize would wait for the lost rank).</summary>
    internal static int Run(ProcessGroup group, Func<int> body)
    {
        try { return body(); }
        catch (DistributedException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            group.Abort(1);
            return 1;
        }
    }

    private static int Check(ProcessGroup group, int? die, int? stall, bool mismatch)
    {
        int rank = group.Rank, world = group.WorldSize;
        if (die == rank)
        {
            Console.Error.WriteLine($"rank {rank}: killing myself (--die-rank)");
            Console.Error.Flush();
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }
        if (stall == rank)
        {
            Console.Error.WriteLine($"rank {rank}: stalling (--stall-rank)");
            Thread.Sleep(TimeSpan.FromHours(1));
        }
        var failures = new List<string>();
        void Expect(bool ok, string what) { if (!ok) failures.Add(what); }
        using var scope = Tensor.Scope();
        if (mismatch)
        {
            using var t = Tensor.Zeros(rank == 1 ? [3, 5] : [15]);
            group.AllReduce(t);
        }

        // Sum and average of rank-dependent values on floating dtypes, in place and out of place; a view with gaps.
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            var x = Tensor.FromArray(Enumerable.Range(0, 10).Select(i => (double)(rank + 1) * (i + 1)).ToArray()).ToDType(dtype);
            var outOfPlace = group.AllReduced(x);
            double totalRanks = world * (world + 1) / 2.0;
            Expect(x.ToArray<double>()[9] == (rank + 1) * 10.0, $"{dtype}: out-of-place all_reduce changed its input");
            Expect(outOfPlace.ToArray<double>().Select((v, i) => v == totalRanks * (i + 1)).All(b => b), $"{dtype}: all_reduce sum");
            group.AllReduce(x, ReduceOp.Average);
            Expect(x.ToArray<double>().Select((v, i) => Math.Abs(v - totalRanks / world * (i + 1)) < 1e-6).All(b => b), $"{dtype}: all_reduce average");
            var grid = Tensor.Full([4, 6], rank + 1.0, dtype);
            var strided = grid.Slice(1, 0, 6, 2);
            group.AllReduce(strided);
            var back = grid.ToArray<double>();
            Expect(back.Select((v, i) => v == (i % 2 == 0 ? totalRanks : rank + 1)).All(b => b), $"{dtype}: all_reduce of a strided view");
        }
        var ints = Tensor.FromArray(new long[] { rank, 1L << 40, -rank });
        group.AllReduce(ints);
        long sumRanks = world * (world - 1L) / 2;
        Expect(ints.ToArray<long>().SequenceEqual(new[] { sumRanks, world * (1L << 40), -sumRanks }), "i64: all_reduce sum");
        var flags = Tensor.FromArray(new[] { rank == 0, false, true });
        group.AllReduce(flags);
        Expect(flags.ToArray<bool>().SequenceEqual(new[] { true, false, true }), "bool: all_reduce (logical or)");

        foreach (var dtype in new[] { DType.F32, DType.F64, DType.I64, DType.Bool })
        {
            int root = world - 1;
            var b = Tensor.Full([2, 3], rank == root ? 1 : 0, dtype);
            group.Broadcast(b, root);
            Expect(b.ToArray<double>().All(v => v == 1), $"{dtype}: broadcast from rank {root}");
            var g = group.AllGather(Tensor.Full([3], rank, dtype == DType.Bool ? DType.I64 : dtype));
            Expect(g.Shape.SequenceEqual(new[] { world, 3 }) && g.ToArray<double>().Select((v, i) => v == i / 3).All(c => c), $"{dtype}: all_gather");
        }
        group.Barrier();
        bool ok = failures.Count == 0;
        foreach (var f in failures) Console.Error.WriteLine($"rank {rank}: wrong: {f}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"rank\":{rank},\"world_size\":{world},\"local_rank\":{group.LocalRank},\"backend\":\"{group.Backend}\",\"passed\":{(ok ? "true" : "false")},\"failures\":{failures.Count}}}"));
        return ok ? 0 : 1;
    }
}
