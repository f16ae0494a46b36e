using Engine.Autograd;
using Engine.Models.Nn;
using Engine.Models.Zoo;
using Xunit;

namespace Engine.Tests.Models;

public class LayerTests
{
    [Fact]
    public void LinearAndConvHavePyTorchKeysShapesAndDefaultInitBounds()
    {
        using var linear = new Linear(20, 7);
        Assert.Equal(new[] { "weight", "bias" }, linear.StateDict().Keys.ToArray());
        Assert.Equal(new[] { 7, 20 }, linear.Weight.Shape);
        double bound = 1 / Math.Sqrt(20);
        Assert.True(linear.Weight.Abs().Max().Item() <= bound && linear.Bias!.Abs().Max().Item() <= bound);

        using var conv = new Conv2d(6, 12, 3, stride: 2, padding: 1, groups: 3, bias: false);
        Assert.Equal(new[] { "weight" }, conv.StateDict().Keys.ToArray());
        Assert.Equal(new[] { 12, 2, 3, 3 }, conv.Weight.Shape);
        using var scope = Tensor.Scope();
        Assert.Equal(new[] { 2, 12, 4, 4 }, conv.Call(Tensor.Randn([2, 6, 8, 8])).Shape);
        Assert.Throws<ArgumentException>(() => new Conv2d(5, 12, 3, groups: 3));
    }

    [Fact]
    public void BatchNormTracksBatchesAndUsesRunningStatisticsInEval()
    {
        using var bn = new BatchNorm2d(3);
        Assert.Equal(new[] { "weight", "bias", "running_mean", "running_var", "num_batches_tracked" }, bn.StateDict().Keys.ToArray());
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([4, 3, 5, 5], DType.F32, generator: new Engine.Randomness.Generator(11)).Mul(2.0).Add(1.0);
        var train = bn.Call(x);
        Assert.Equal(1, bn.StateDict()["num_batches_tracked"].Item());
        // Training output is normalised per channel with the batch statistics.
        Assert.True(Math.Abs(train.Mean().Item()) < 1e-5);
        // Running mean moved 10% of the way towards the batch mean (momentum 0.1).
        var batchMean = x.Mean([0, 2, 3]).ToArray<float>();
        var running = bn.StateDict()["running_mean"].ToArray<float>();
        // A tolerance, not rounding to 5 places: two float32 means summed in different orders may straddle a rounding boundary.
        for (int c = 0; c < 3; c++) Assert.True(Math.Abs(0.1 * batchMean[c] - running[c]) < 1e-6, $"channel {c}: {running[c]} against {0.1 * batchMean[c]}");
        bn.Eval();
        var eval = bn.Call(x);
        Assert.Equal(1, bn.StateDict()["num_batches_tracked"].Item());
        Assert.False(Math.Abs(eval.Mean().Item()) < 1e-3, "eval mode must use the running statistics, not the batch's");
    }

    [Fact]
    public void DropoutIsIdentityInEvalAndMlpHasTimmKeys()
    {
        using var scope = Tensor.Scope();
        using var drop = new Dropout(0.5);
        var x = Tensor.Ones([1000]);
        Assert.True(drop.Call(x).Eq(0.0).ToDType(DType.F32).Sum().Item() > 300);
        drop.Eval();
        Assert.Equal(1000.0, drop.Call(x).Sum().Item());

        using var mlp = new Mlp(8, 32, 4);
        Assert.Equal(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }, mlp.StateDict().Keys.ToArray());
        Assert.Equal(new[] { 5, 4 }, mlp.Call(Tensor.Randn([5, 8])).Shape);
    }

    [Fact]
    public void NormLayersNormaliseWhatTheySay()
    {
        using var scope = Tensor.Scope();
        using var ln = new LayerNorm(16);
        var y = ln.Call(Tensor.Randn([3, 16], DType.F32).Mul(3.0));
        Assert.True(y.Mean(-1).Abs().Max().Item() < 1e-5);
        using var ln2d = new LayerNorm2d(4);
        var z = ln2d.Call(Tensor.Randn([2, 4, 3, 3]).Add(5.0));
        Assert.True(z.Mean(1).Abs().Max().Item() < 1e-5);
        using var gn = new GroupNorm(2, 4);
        Assert.Equal(new[] { 2, 4, 3, 3 }, gn.Call(Tensor.Randn([2, 4, 3, 3])).Shape);
        Assert.Throws<ArgumentException>(() => new GroupNorm(3, 4));
    }

    [Fact]
    public void SmallCnnTrainsOneStepAndEveryParameterGetsAGradient()
    {
        using var model = new SmallCnn(3, 10, generator: new Engine.Randomness.Generator(1));
        using var scope = Tensor.Scope();
        var logits = model.Call(Tensor.Randn([4, 3, 32, 32]));
        Assert.Equal(new[] { 4, 10 }, logits.Shape);
        var loss = Engine.Ops.Functional.CrossEntropy(logits, Tensor.FromArray(new long[] { 1, 2, 3, 4 }));
        loss.Backward();
        Assert.All(model.NamedParameters(), p => Assert.True(p.Parameter.Grad is not null, $"{p.Name} got no gradient"));
        Assert.Equal(new[] { "features.0.weight", "features.1.weight", "features.1.bias" }, model.StateDict().Keys.Take(3).ToArray());
    }
}
