using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>
/// Gradients of the fused norms for input, weight and bias. The case's choice picks the hyper-parameters:
/// eps, whether weight and bias are passed, and (per operator) the normalised dimensions, the number of
/// groups, training or evaluation.
/// </summary>
public class NormGradients
{
    private static readonly double[] Epsilons = [1e-5, 1e-3, 0.1, 1.0];

    private static double Eps(Case c) => Epsilons[c.Choice % 4];

    /// <summary>
    /// An input broadcast across a whole normalised set makes that set constant: its input gradient is then a sum,
    /// over the broadcast, of terms of size g/sqrt(eps) that cancel exactly, and what is left is rounding noise (the
    /// F32 sums of the broadcast's backward round differently on the CPU, in float, and on the GPU, in double, and
    /// the GPU-vs-CPU rerun of these properties compares them to 1e-5). Broadcast inputs are kept where eps keeps
    /// those terms small.
    /// </summary>
    private static bool Conditioned(Case c) => c.Operands[0].Strides != Strides.Expanded || Eps(c) >= 0.1;
    private static Tensor? Weight(Tensor[] x, Case c) => c.Choice / 4 % 2 == 1 ? x[1] : null;
    private static Tensor? Bias(Tensor[] x, Case c) => c.Choice / 8 % 2 == 1 ? x[2] : null;

    /// <summary>x of shape (*, normalized) with weight and bias of the normalized shape.</summary>
    private static readonly Gen<int[][]> TrailingShapes =
        from x in Shape(1, 4)
        from k in Gen.Choose(1, x.Length)
        select new[] { x, x[^k..], x[^k..] };

    private static bool TrailingValid(Case c)
    {
        var (x, w, b) = (c.Operands[0].Shape, c.Operands[1].Shape, c.Operands[2].Shape);
        return w.Length >= 1 && w.Length <= x.Length && x.AsSpan(x.Length - w.Length).SequenceEqual(w) && b.AsSpan().SequenceEqual(w);
    }

    /// <summary>x of shape (N, C, *) with weight and bias of shape (C).</summary>
    private static readonly Gen<int[][]> ChannelShapes =
        from x in Shape(2, 4)
        select new[] { x, new[] { x[1] }, new[] { x[1] } };

    private static bool ChannelValid(Case c) =>
        c.Operands[0].Shape.Length >= 2 && c.Operands.Skip(1).All(o => o.Shape.Length == 1 && o.Shape[0] == c.Operands[0].Shape[1]);

    [Fact]
    public void LayerNorm() => GradientProperty.Check(Arbitrary(Of(TrailingShapes), c => TrailingValid(c) && Conditioned(c)),
        (x, c) => F.LayerNorm(x[0], c.Operands[1].Shape, Weight(x, c), Bias(x, c), Eps(c)));

    [Fact]
    public void LayerNorm2d() => GradientProperty.Check(Arbitrary(Of(ChannelShapes), c => ChannelValid(c) && Conditioned(c)),
        (x, c) => F.LayerNorm2d(x[0], Weight(x, c), Bias(x, c), Eps(c)));

    /// <summary>
    /// (x - mean)/(std + eps) has a kink where every channel of a position holds the same value (std = 0),
    /// which an input broadcast along C produces; such cases are left out.
    /// </summary>
    [Fact]
    public void LayerNorm2dEpsOnStd() => GradientProperty.Check(
        Arbitrary(Of(ChannelShapes), c => ChannelValid(c) && c.Operands[0].Strides != Strides.Expanded),
        (x, c) => F.LayerNorm2dEpsOnStd(x[0], Weight(x, c), Bias(x, c), Eps(c)));

    private static int Groups(Case c)
    {
        int channels = c.Operands[0].Shape[1];
        var divisors = Enumerable.Range(1, Math.Max(1, channels)).Where(g => channels % g == 0).ToArray();
        return divisors[c.Choice / 16 % divisors.Length];
    }

    /// <summary>group_norm refuses N·(C/G)·(spatial sizes) == 1, as PyTorch does (NormErrorTests checks the refusal).</summary>
    private static bool GroupValid(Case c)
    {
        if (!ChannelValid(c) || !Conditioned(c)) return false;
        var x = c.Operands[0].Shape;
        return (long)x[0] * (x[1] / Groups(c)) * Layout.Count(x.AsSpan(2)) != 1;
    }

    [Fact]
    public void GroupNorm() => GradientProperty.Check(Arbitrary(Of(ChannelShapes), GroupValid),
        (x, c) => F.GroupNorm(x[0], Groups(c), Weight(x, c), Bias(x, c), Eps(c)));

    private static bool Training(Case c) => c.Choice / 16 % 2 == 0;

    /// <summary>Training needs more than one value per channel.</summary>
    private static bool BatchValid(Case c)
    {
        if (!ChannelValid(c) || !Conditioned(c)) return false;
        var x = c.Operands[0].Shape;
        return !Training(c) || (long)x[0] * Layout.Count(x.AsSpan(2)) != 1;
    }

    [Fact]
    public void BatchNorm() => GradientProperty.Check(Arbitrary(Of(ChannelShapes), BatchValid), (x, c) =>
    {
        int channels = x[0].Shape[1];
        var rng = new System.Random(c.Seed);
        // Fresh running statistics on every call: training updates them in place, and the check calls the
        // function many times. In training they do not affect the output; sometimes they are left out. They take
        // the input's dtype and device (the same property runs GPU-vs-CPU in both dtypes).
        bool withRunning = !Training(c) || c.Choice / 32 % 2 == 0;
        using var mean = Channels(Enumerable.Range(0, channels).Select(_ => rng.NextDouble() - 0.5).ToArray(), x[0]);
        using var variance = Channels(Enumerable.Range(0, channels).Select(_ => 0.5 + rng.NextDouble()).ToArray(), x[0]);
        return F.BatchNorm(x[0], withRunning ? mean : null, withRunning ? variance : null, Weight(x, c), Bias(x, c),
            training: Training(c), momentum: 0.1 + 0.8 * rng.NextDouble(), eps: Eps(c));
    });

    /// <summary>A per-channel tensor of <paramref name="values"/> in the dtype and on the device of <paramref name="like"/>.</summary>
    private static Tensor Channels(double[] values, Tensor like)
    {
        using var host = Tensor.FromArray(values, [values.Length]);
        using var typed = host.ToDType(like.DType);
        return typed.ToDevice(like.Device).Clone();
    }
}
