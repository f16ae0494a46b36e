using Engine.Autograd;
using Engine.Models.Optim;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>Gradient clipping, gradient accumulation and the EMA of weights.</summary>
public class TrainingUtilityTests
{
    private static Tensor Leaf(double[] values, int[]? shape = null) => Tensor.FromArray(values, shape).RequiresGradInPlace();

    private static Tensor WithGrad(double[] grad)
    {
        var p = Leaf(new double[grad.Length]);
        p.Grad = Tensor.FromArray(grad);
        return p;
    }

    [Fact]
    public void ClipGradNormScalesByMaxNormOverTheTotalNorm()
    {
        using var scope = Tensor.Scope();
        var a = WithGrad([3, 4]);
        var b = WithGrad([12]);
        var none = Leaf([1]);
        double total = GradientClipping.ClipGradNorm([a, b, none], maxNorm: 6.5).Item();
        Assert.Equal(13, total, 1e-15);
        double coef = 6.5 / (13 + 1e-6);
        Assert.Equal(new[] { 3 * coef, 4 * coef }, a.Grad!.ToArray<double>());
        Assert.Equal(new[] { 12 * coef }, b.Grad!.ToArray<double>());
        Assert.Null(none.Grad);

        // Below the limit nothing changes, and the norm is still returned.
        Assert.Equal(13 * coef, GradientClipping.ClipGradNorm([a, b], maxNorm: 100).Item(), 1e-14);
        Assert.Equal(new[] { 3 * coef, 4 * coef }, a.Grad!.ToArray<double>());
        var empty = GradientClipping.ClipGradNorm([none], 1);
        Assert.Equal(0, empty.Item());
        Assert.Equal((Device.Cpu, DType.F64, 0), (empty.Device, empty.DType, empty.Rank));   // a tensor, as PyTorch returns
    }

    [Theory]
    [InlineData(1.0, 3 + 4 + 12)]
    [InlineData(3.0, 0)]
    [InlineData(double.PositiveInfinity, 12)]
    public void ClipGradNormSupportsOtherNorms(double p, double expected)
    {
        using var scope = Tensor.Scope();
        var a = WithGrad([3, -4]);
        var b = WithGrad([-12]);
        if (p == 3.0) expected = Math.Pow(27 + 64 + 1728, 1 / 3.0);
        double total = GradientClipping.ClipGradNorm([a, b], maxNorm: 1, normType: p).Item();
        Assert.Equal(expected, total, 1e-12);
        Assert.Equal(-12 / (expected + 1e-6), b.Grad!.Item(), 1e-15);
    }

    [Fact]
    public void ClipGradNormOfLargeFloatGradientsSumsInDouble()
    {
        using var scope = Tensor.Scope();
        var p = Tensor.Zeros([300_000], DType.F32).RequiresGradInPlace();
        p.Grad = Tensor.Full([300_000], 0.1, DType.F32);
        double expected = Math.Sqrt(300_000 * (double)0.1f * 0.1f);
        Assert.Equal(expected, GradientClipping.ClipGradNorm([p], 1e9).Item(), 1e-9);
    }

    [Fact]
    public void NonFiniteNormsPropagateOrThrowOnRequest()
    {
        using var scope = Tensor.Scope();
        var a = WithGrad([double.NaN, 1]);
        var e = Assert.Throws<InvalidOperationException>(() => GradientClipping.ClipGradNorm([a], 1, errorIfNonfinite: true));
        Assert.Contains("non-finite", e.Message);
        Assert.Equal(1, a.Grad!.ToArray<double>()[1]);
        Assert.True(double.IsNaN(GradientClipping.ClipGradNorm([a], 1).Item()));
        Assert.True(double.IsNaN(a.Grad!.ToArray<double>()[1]));
        Assert.Throws<ArgumentException>(() => GradientClipping.ClipGradNorm([a], 1, normType: 0));
    }

    /// <summary>Four micro-batches with the loss scaled by 1/4 give the gradient of the mean loss over the whole batch.</summary>
    [Fact]
    public void AccumulatedMicroBatchesAddUpToTheFullBatchGradient()
    {
        using var scope = Tensor.Scope();
        var g = new Generator(3);
        var x = Tensor.Randn([8, 3], DType.F64, generator: g);
        var w = Tensor.Randn([3], DType.F64, generator: g).RequiresGradInPlace();
        var full = Tensor.Zeros([3], DType.F64).RequiresGradInPlace();
        using (Tape.NoGrad()) full.CopyFrom(w);

        (x.MatMul(full.Unsqueeze(1)).Tanh().Mean()).Backward();

        var acc = new GradientAccumulator(4);
        Assert.Equal(0.25, acc.LossScale);
        var boundaries = new List<bool>();
        foreach (var chunk in x.Chunk(4))
            boundaries.Add(acc.Backward(chunk.MatMul(w.Unsqueeze(1)).Tanh().Mean()));
        Assert.Equal([false, false, false, true], boundaries);
        Assert.Equal(0, acc.Pending);
        var expected = full.Grad!.ToArray<double>();
        var got = w.Grad!.ToArray<double>();
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], got[i], 1e-15);
    }

    [Fact]
    public void APartialAccumulationIsRescaledToAnAverage()
    {
        using var scope = Tensor.Scope();
        var w = Leaf([1, 2]);
        var acc = new GradientAccumulator(4);
        Assert.False(acc.FinishPartial([w]));
        acc.Backward(w.Sum());
        acc.Backward(w.Mul(3).Sum());
        Assert.Equal(2, acc.Pending);
        // (1 + 3) / 4 accumulated; rescaled by 4/2 it is the mean of the two micro-batches, 2.
        Assert.True(acc.FinishPartial([w]));
        Assert.Equal(new double[] { 2, 2 }, w.Grad!.ToArray<double>());
        Assert.Equal(0, acc.Pending);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradientAccumulator(0));
    }

    [Fact]
    public void EmaFollowsDecayTimesAveragePlusOneMinusDecayTimesWeight()
    {
        using var scope = Tensor.Scope();
        var w = Leaf([1, 2, 3]);
        var strided = Tensor.FromArray(new double[] { 1, 2, 3, 4 }, [2, 2]).T;
        var counter = Tensor.FromArray(new long[] { 5 });
        using var ema = new Ema([KeyValuePair.Create("w", w), KeyValuePair.Create("s", strided), KeyValuePair.Create("n", counter)], decay: 0.9);
        var expectedW = new double[] { 1, 2, 3 };
        var expectedS = strided.ToArray<double>();
        for (int step = 1; step <= 3; step++)
        {
            using (Tape.NoGrad())
            {
                w.MulInPlace(2);
                strided.MulInPlace(-1);
                counter.Fill(5 + step);
            }
            ema.Update();
            var cw = w.ToArray<double>();
            var cs = strided.ToArray<double>();
            for (int i = 0; i < 3; i++) expectedW[i] = 0.9 * expectedW[i] + (1 - 0.9) * cw[i];
            for (int i = 0; i < 4; i++) expectedS[i] = 0.9 * expectedS[i] + (1 - 0.9) * cs[i];
            Assert.Equal(expectedW, ema.Values["w"].ToArray<double>());
            var gotS = ema.Values["s"].ToArray<double>();
            for (int i = 0; i < 4; i++) Assert.Equal(expectedS[i], gotS[i], 1e-15);
            Assert.Equal(5 + step, ema.Values["n"].Item());
        }
    }

    [Fact]
    public void EmaWarmupFollowsTimmsDecaySchedule()
    {
        using var scope = Tensor.Scope();
        using var ema = new Ema([Leaf([0])], decay: 0.999, warmup: new EmaWarmup(Gamma: 1, Power: 0.75, UpdateAfterStep: 2));
        Assert.Equal(0.999, ema.DecayAt(null));
        Assert.Equal(0, ema.DecayAt(1));
        Assert.Equal(0, ema.DecayAt(3));
        Assert.Equal(1 - Math.Pow(2, -0.75), ema.DecayAt(4));
        Assert.Equal(0.999, ema.DecayAt(10_000_000));
        using var constant = new Ema([Leaf([0])], decay: 0.5);
        Assert.Equal(0, constant.DecayAt(1));
        Assert.Equal(0.5, constant.DecayAt(2));
        Assert.Contains("decay must be in [0, 1]", Assert.Throws<ArgumentException>(() => new Ema([Leaf([0])], decay: 1.5)).Message);
    }

    [Fact]
    public void EmaCopiesIntoATargetAndRoundTripsItsStateDict()
    {
        using var scope = Tensor.Scope();
        var w = Leaf([1, 2]);
        using var ema = new Ema([w], decay: 0.5);
        using (Tape.NoGrad()) w.Fill(3);
        ema.Update(step: 1); // decay 0 on the first counted update: a copy
        Assert.Equal(new double[] { 3, 3 }, ema.Values["0"].ToArray<double>());
        using (Tape.NoGrad()) w.Fill(5);
        ema.Update();
        Assert.Equal(new double[] { 4, 4 }, ema.Values["0"].ToArray<double>());

        var target = Tensor.Zeros([2], DType.F64);
        ema.CopyTo(new Dictionary<string, Tensor> { ["0"] = target });
        Assert.Equal(new double[] { 4, 4 }, target.ToArray<double>());

        var state = ema.StateDict();
        using var other = new Ema([Leaf([0, 0])], decay: 0.5);
        other.LoadStateDict(state);
        Assert.Equal(new double[] { 4, 4 }, other.Values["0"].ToArray<double>());
        other.Set();
        Assert.Equal(new double[] { 0, 0 }, other.Values["0"].ToArray<double>());
        Assert.Contains("has shape [3]", Assert.Throws<ArgumentException>(() => other.LoadStateDict(new Dictionary<string, Tensor> { ["0"] = Tensor.Zeros([3], DType.F64) })).Message);
        Assert.Contains("no '0'", Assert.Throws<ArgumentException>(() => other.LoadStateDict(new Dictionary<string, Tensor>())).Message);
    }
}
