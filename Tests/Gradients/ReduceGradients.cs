using Xunit;
using static Engine.Tests.Gradients.Generators;

namespace Engine.Tests.Gradients;

/// <summary>Gradients of reductions over random sets of axes, with and without keepdim.</summary>
public class ReduceGradients
{
    /// <summary>The axes a case reduces over, picked from its choice: a non-empty subset, or all when rank 0.</summary>
    internal static int[] Axes(Case c)
    {
        int rank = c.Operands[0].Shape.Length;
        if (rank == 0) return [];
        int mask = c.Choice % ((1 << rank) - 1) + 1;
        return Enumerable.Range(0, rank).Where(d => (mask & (1 << d)) != 0).ToArray();
    }

    private static bool KeepDim(Case c) => c.Choice % 2 == 1;

    private static bool NoEmptyAxes(Case c) => Axes(c).All(a => c.Operands[0].Shape[a] > 0);

    private static void Reduction(Func<Tensor, int[], bool, Tensor> op, Func<Case, bool>? valid = null, Values values = Values.Normal) =>
        GradientProperty.Check(Arbitrary(Single(), valid), (x, c) => op(x[0], Axes(c), KeepDim(c)), _ => values);

    [Fact] public void Sum() => Reduction((x, axes, keep) => x.Sum(axes, keep));
    [Fact] public void SumAll() => GradientProperty.Check(Arbitrary(Single()), (x, c) => x[0].Sum());
    [Fact] public void Mean() => Reduction((x, axes, keep) => x.Mean(axes, keep), NoEmptyAxes);
    [Fact] public void Max() => Reduction((x, axes, keep) => x.Max(axes, keep), NoEmptyAxes, Values.Distinct);
    [Fact] public void Min() => Reduction((x, axes, keep) => x.Min(axes, keep), NoEmptyAxes, Values.Distinct);
    [Fact] public void LogSumExp() => Reduction((x, axes, keep) => x.LogSumExp(axes, keep), NoEmptyAxes);

    [Fact]
    public void Var() => Reduction((x, axes, keep) => x.Var(axes, correction: 1, keepDim: keep),
        c => Axes(c).Aggregate(1L, (n, a) => n * c.Operands[0].Shape[a]) > 1);

    [Fact]
    public void VarPopulation() => Reduction((x, axes, keep) => x.Var(axes, correction: 0, keepDim: keep), NoEmptyAxes);

    /// <summary>A strictly increasing ramp added before std, so no reduced slice is constant (where sqrt has no derivative).</summary>
    private static Tensor Ramp(Tensor x) => Tensor.Arange(x.NumEl, x.DType, x.Device).Reshape(x.Shape).Mul(0.37);

    [Fact]
    public void Std() => Reduction((x, axes, keep) => (x + Ramp(x)).Std(axes, correction: 1, keepDim: keep),
        c => Axes(c).Aggregate(1L, (n, a) => n * c.Operands[0].Shape[a]) > 1);

    /// <summary>Ties split the gradient evenly, as PyTorch's amax does; checked on an exact case.</summary>
    [Fact]
    public void MaxTiesShareTheGradient()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 1, 3, 3, 2 }).RequiresGradInPlace();
        x.Max().Backward();
        Assert.Equal(new[] { 0, 0.5, 0.5, 0 }, x.Grad!.ToArray<double>());
    }
}
