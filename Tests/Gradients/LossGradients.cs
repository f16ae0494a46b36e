using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>
/// Float64 gradient properties of cross-entropy and nll_loss: random logits shapes (C), (N, C), (N, C, d...)
/// and layouts, with the reduction, label smoothing, class weights and ignore index drawn from the case.
/// </summary>
public class LossGradients
{
    private static int ClassDim(int[] shape) => shape.Length == 1 ? 0 : 1;

    private static readonly FsCheck.Gen<int[]> LogitShapes = Shape(1, 4).Where(s => s[ClassDim(s)] > 0);

    private static string Reduction(Case c) => new[] { "mean", "sum", "none" }[c.Choice % 3];
    private static double Smoothing(Case c) => new[] { 0, 0.1, 0.6, 1 }[c.Choice / 3 % 4];
    private static bool Weighted(Case c) => c.Choice / 12 % 2 == 1;

    /// <summary>A mean over no positions is NaN; every other case is smooth.</summary>
    private static bool HasPositions(Case c) => Reduction(c) != "mean" || Layout.Count(c.Operands[0].Shape) > 0;

    /// <summary>Class weights from the case's seed, made on the CPU in float64, in the logits' dtype and on their device.</summary>
    private static Tensor? Weight(Case c, int classes, Tensor like) =>
        Weighted(c) ? Tensor.Rand([classes], DType.F64, Device.Cpu, new Engine.Randomness.Generator((ulong)c.Seed + 1)).Affine(1.5, 0.25).ToDType(like.DType).ToDevice(like.Device) : null;

    /// <summary>Class-index targets from the case's seed, some equal to the ignore index (0, 1 or -100), at least one not, on the logits' device.</summary>
    private static (Tensor Target, long Ignore) Targets(Case c, int[] shape, Tensor like)
    {
        int classes = shape[ClassDim(shape)];
        long ignore = new long[] { -100, 0, 1 }[c.Choice / 24 % 3];
        if (ignore >= classes || classes == 1) ignore = -100;
        var rng = new System.Random(c.Seed);
        var positions = shape.Where((_, i) => i != ClassDim(shape)).ToArray();
        var t = new long[Layout.Count(positions)];
        for (int i = 0; i < t.Length; i++) t[i] = rng.Next(3) == 0 && ignore >= 0 ? ignore : rng.Next(classes);
        if (t.Length > 0 && ignore >= 0) t[0] = (ignore + 1) % classes;
        return (Tensor.FromArray(t, positions).ToDevice(like.Device), ignore);
    }

    [Fact]
    public void CrossEntropyClassIndices() => GradientProperty.Check(
        Arbitrary(Of(LogitShapes.Select(s => new[] { s })), c => c.Operands[0].Shape.Length > 0 && c.Operands[0].Shape[ClassDim(c.Operands[0].Shape)] > 0 && HasPositions(c)),
        (x, c) =>
        {
            var shape = c.Operands[0].Shape;
            var (target, ignore) = Targets(c, shape, x[0]);
            return F.CrossEntropy(x[0], target, Weight(c, shape[ClassDim(shape)], x[0]), ignore, Reduction(c), Smoothing(c));
        });

    [Fact]
    public void CrossEntropySoftTargets() => GradientProperty.Check(
        Arbitrary(Of(LogitShapes.Select(s => new[] { s, s })), c => c.Operands[0].Shape.Length > 0 && c.Operands[0].Shape[ClassDim(c.Operands[0].Shape)] > 0
            && c.Operands[1].Shape.AsSpan().SequenceEqual(c.Operands[0].Shape) && HasPositions(c)),
        (x, c) =>
        {
            var shape = c.Operands[0].Shape;
            return F.CrossEntropy(x[0], x[1], Weight(c, shape[ClassDim(shape)], x[0]), reduction: Reduction(c), labelSmoothing: Smoothing(c));
        },
        i => i == 0 ? Values.Normal : Values.Positive);

    [Fact]
    public void NllLoss() => GradientProperty.Check(
        Arbitrary(Of(LogitShapes.Select(s => new[] { s })), c => c.Operands[0].Shape.Length > 0 && c.Operands[0].Shape[ClassDim(c.Operands[0].Shape)] > 0 && HasPositions(c)),
        (x, c) =>
        {
            var shape = c.Operands[0].Shape;
            var (target, ignore) = Targets(c, shape, x[0]);
            return F.NllLoss(F.LogSoftmax(x[0], ClassDim(shape)), target, Weight(c, shape[ClassDim(shape)], x[0]), ignore, Reduction(c));
        });
}
