using Engine.Distributed;
using Engine.Models.Distributed;
using Engine.Models.Nn;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Distributed;

/// <summary>The world of one (no launcher), the tape's post-accumulate hook, and data-parallel training in one process.</summary>
public class SingleProcessTests
{
    [Fact]
    public void Single_group_collectives_leave_values_and_gather_stacks()
    {
        using var scope = Tensor.Scope();
        using var g = new SingleProcessGroup();
        Assert.Equal((0, 1, 0), (g.Rank, g.WorldSize, g.LocalRank));
        foreach (var dtype in new[] { DType.F32, DType.F64, DType.I64, DType.Bool })
        {
            var x = Tensor.Full([2, 3], 1, dtype);
            g.AllReduce(x);
            g.Broadcast(x);
            Assert.All(x.ToArray<double>(), v => Assert.Equal(1, v));
            var gathered = g.AllGather(x);
            Assert.Equal([1, 2, 3], gathered.Shape);
            Assert.Equal(x.ToArray<double>(), gathered.ToArray<double>());
        }
        var f = Tensor.FromArray(new[] { 3.0, 4.0 });
        var copy = g.AllReduced(f, ReduceOp.Average);
        Assert.Equal(new[] { 3.0, 4.0 }, copy.ToArray<double>());
        Assert.False(ReferenceEquals(copy, f));
        g.Barrier();
    }

    [Fact]
    public void Average_of_integers_and_a_bad_root_are_named()
    {
        using var scope = Tensor.Scope();
        using var g = new SingleProcessGroup();
        Assert.Contains("average needs a floating-point tensor", Assert.Throws<ArgumentException>(() => g.AllReduce(Tensor.Zeros([2], DType.I64), ReduceOp.Average)).Message);
        Assert.Contains("root 1 is outside the group of 1", Assert.Throws<ArgumentOutOfRangeException>(() => g.Broadcast(Tensor.Zeros([2]), 1)).Message);
    }

    [Fact]
    public void Post_accumulate_hook_runs_once_per_leaf_after_its_last_contribution()
    {
        using var scope = Tensor.Scope();
        var w = Tensor.FromArray(new[] { 1.0, 2.0 }).RequiresGradInPlace();
        var unused = Tensor.FromArray(new[] { 5.0 }).RequiresGradInPlace();
        var seen = new List<double[]>();
        using var hook = w.RegisterPostAccumulateGradHook(t => seen.Add(t.Grad!.ToArray<double>()));
        using var hook2 = unused.RegisterPostAccumulateGradHook(_ => seen.Add([-1]));
        // w is used three times: the hook must see the sum of all three contributions, once.
        var loss = w.Mul(w).Sum().Add(w.Mul(3.0).Sum());
        loss.Backward();
        Assert.Single(seen);
        Assert.Equal(new[] { 2 * 1.0 + 3, 2 * 2.0 + 3 }, seen[0]);
        Assert.Throws<InvalidOperationException>(() => loss.RegisterPostAccumulateGradHook(_ => { }));
    }

    [Fact]
    public void Ddp_in_a_world_of_one_keeps_the_gradients_and_launches_buckets_during_backward()
    {
        using var scope = Tensor.Scope();
        using var group = new SingleProcessGroup();
        using var model = new Sequential(new Linear(6, 8, generator: new Generator(1)), new Linear(8, 3, generator: new Generator(2)));
        model.ToDType(DType.F64);
        var x = Tensor.Randn([4, 6], DType.F64, generator: new Generator(3));
        model.Call(x).Pow(2).Mean().Backward();
        var expected = model.Parameters().Select(p => p.Grad!.ToArray<double>()).ToList();
        model.ZeroGrad();

        // Buckets of 100 bytes: one parameter each (the 8x6 weight alone is bigger), launched as each is ready.
        using var ddp = new DistributedDataParallel(model, group, bucketCapBytes: 100);
        Assert.Equal(4, ddp.BucketSizes.Count);
        ddp.Call(x).Pow(2).Mean().Backward();
        ddp.FinishGradientSync();
        Assert.Equal(4, ddp.BucketsLaunchedDuringBackward);
        Assert.Equal(expected, model.Parameters().Select(p => p.Grad!.ToArray<double>()).ToList());

        // no_sync: gradients accumulate locally; the next synced backward reduces the sum.
        model.ZeroGrad();
        using (ddp.NoSync())
        {
            ddp.Call(x).Pow(2).Mean().Backward();
            ddp.FinishGradientSync();
        }
        Assert.Equal(0, ddp.BucketsLaunchedDuringBackward);
        ddp.Call(x).Pow(2).Mean().Backward();
        ddp.FinishGradientSync();
        var doubled = model.Parameters().Select(p => p.Grad!.ToArray<double>()).ToList();
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i].Select(v => 2 * v), doubled[i], (a, b) => Math.Abs(a - b) <= 1e-15 * Math.Max(1, Math.Abs(a)));
    }
}
