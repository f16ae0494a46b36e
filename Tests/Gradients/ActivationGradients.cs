using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>Float64 gradient properties of the activations, softmax and log-softmax.</summary>
public class ActivationGradients
{
    private static void Unary(Func<Tensor, Case, Tensor> op, Values values = Values.Normal) =>
        GradientProperty.Check(Arbitrary(Single()), (x, c) => op(x[0], c), _ => values);

    [Fact] public void Gelu() => Unary((x, c) => F.Gelu(x));
    [Fact] public void GeluTanh() => Unary((x, c) => F.Gelu(x, "tanh"));
    [Fact] public void Silu() => Unary((x, c) => F.Silu(x));

    /// <summary>Values scaled by 4 (grid k/10 + 0.03 becomes 0.4k + 0.12) so that both kinks at ±3 and the flat parts are visited, never within 0.08 of a kink.</summary>
    [Fact] public void Hardswish() => Unary((x, c) => F.Hardswish(x * 4.0), Values.GridA);

    /// <summary>Threshold from the case: 0, 0.25 (0.02 from the grid), 0.5 or 1.5.</summary>
    [Fact] public void Softshrink() => Unary((x, c) => F.Softshrink(x, new[] { 0, 0.25, 0.5, 1.5 }[c.Choice % 4]), Values.GridA);

    /// <summary>The axis (negative half the time) from the case's choice; any rank, size-1 axes and non-contiguous layouts included.</summary>
    private static int Dim(Case c)
    {
        int rank = Math.Max(1, c.Operands[0].Shape.Length);
        int axis = c.Choice % rank;
        return c.Choice / rank % 2 == 0 ? axis : axis - rank;
    }

    [Fact] public void Softmax() => Unary((x, c) => F.Softmax(x, Dim(c)));
    [Fact] public void LogSoftmax() => Unary((x, c) => F.LogSoftmax(x, Dim(c)));

    /// <summary>Softmax feeding another op, so the gradient arriving at it is not the checker's fixed projection alone.</summary>
    [Fact] public void SoftmaxComposed() => Unary((x, c) => F.Softmax(x * 3.0, Dim(c)).Pow(2) + F.LogSoftmax(x, Dim(c)).Exp());
}
