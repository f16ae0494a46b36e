using Xunit;
using static Engine.Tests.Gradients.Generators;

namespace Engine.Tests.Gradients;

/// <summary>The tape's gradient of every elementwise operation equals float64 central differences.</summary>
public class ElementwiseGradients
{
    private static void Unary(Func<Tensor, Tensor> op, Values values = Values.Normal) =>
        GradientProperty.Check(Arbitrary(Single()), (x, c) => op(x[0]), _ => values);

    [Fact] public void Neg() => Unary(x => x.Neg());
    [Fact] public void Exp() => Unary(x => x.Exp());
    [Fact] public void Log() => Unary(x => x.Log(), Values.Positive);
    [Fact] public void Sqrt() => Unary(x => x.Sqrt(), Values.Positive);
    [Fact] public void Rsqrt() => Unary(x => x.Rsqrt(), Values.Positive);
    [Fact] public void Abs() => Unary(x => x.Abs(), Values.GridA);
    [Fact] public void Sin() => Unary(x => x.Sin());
    [Fact] public void Cos() => Unary(x => x.Cos());
    [Fact] public void Tanh() => Unary(x => x.Tanh());
    [Fact] public void Sigmoid() => Unary(x => x.Sigmoid());
    [Fact] public void Relu() => Unary(x => x.Relu(), Values.GridA);
    [Fact] public void Clamp() => Unary(x => x.Clamp(-0.5, 0.5), Values.GridA);
    [Fact] public void ClampMinOnly() => Unary(x => x.Clamp(min: 0.2), Values.GridA);
    [Fact] public void ClampMaxOnly() => Unary(x => x.Clamp(max: -0.2), Values.GridA);
    [Fact] public void PowScalar() => Unary(x => x.Pow(2.5), Values.Positive);
    [Fact] public void PowScalarInteger() => Unary(x => x.Pow(3));
    [Fact] public void ScalarArithmetic() => Unary(x => (2.0 - x * 3.0) / 4.0 + 1.5);
    [Fact] public void Reciprocal() => Unary(x => x.Reciprocal(), Values.Positive);

    private static void Binary(Func<Tensor, Tensor, Tensor> op, Values left = Values.Normal, Values right = Values.Normal) =>
        GradientProperty.Check(Arbitrary(Broadcast(2), Broadcastable), (x, c) => op(x[0], x[1]), i => i == 0 ? left : right);

    [Fact] public void Add() => Binary((a, b) => a + b);
    [Fact] public void Sub() => Binary((a, b) => a - b);
    [Fact] public void Mul() => Binary((a, b) => a * b);
    [Fact] public void Div() => Binary((a, b) => a / b, Values.Normal, Values.Positive);
    [Fact] public void PowTensor() => Binary((a, b) => a.Pow(b), Values.Positive, Values.Normal);
    [Fact] public void Maximum() => Binary(Tensor.Maximum, Values.GridA, Values.GridB);
    [Fact] public void Minimum() => Binary(Tensor.Minimum, Values.GridA, Values.GridB);

    [Fact]
    public void Where() => GradientProperty.Check(Arbitrary(Broadcast(3), Broadcastable), (x, c) =>
    {
        // The first operand only supplies the condition; its values are compared with 0.
        using var cond = x[0].Gt(0);
        return Tensor.Where(cond, x[1], x[2]);
    }, i => i == 0 ? Values.GridA : Values.Normal);

    /// <summary>
    /// masked_fill broadcasts x and the mask together, as PyTorch's out-of-place op does; where the mask is the
    /// larger, x's gradient is summed back over the broadcast dims.
    /// </summary>
    [Fact]
    public void MaskedFill() => GradientProperty.Check(Arbitrary(Broadcast(2), Broadcastable), (x, c) =>
    {
        using var mask = x[1].Lt(0);
        return x[0].MaskedFill(mask, 3.0);
    }, i => i == 1 ? Values.GridA : Values.Normal);
}
