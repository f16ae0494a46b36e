using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>
/// Float64 gradient properties of the spectral operators: the 2-D DCT and its inverse (odd, non-square and
/// size-1 planes, leading batch axes, any layout) and the heat decay, alone and composed as vHeat's heat
/// path idct2(dct2(u) ⊙ exp(-K·Ω)).
/// </summary>
public class DctGradients
{
    private static Arbitrary<Case> Planes(int operands) => Arbitrary(Of(
        from s in Shape(2, 4)
        select Enumerable.Repeat(s, operands).ToArray()), c => c.Operands[0].Shape.Length >= 2);

    /// <summary>The implementation from the case: matrix products, the FFT, or the automatic choice.</summary>
    private static Engine.Ops.DctImplementation Impl(Case c) => (c.Choice % 3) switch
    {
        0 => Engine.Ops.DctImplementation.Matmul,
        1 => Engine.Ops.DctImplementation.Fft,
        _ => Engine.Ops.DctImplementation.Auto,
    };

    [Fact] public void Dct2() => GradientProperty.Check(Planes(1), (x, c) => F.Dct2(x[0], Impl(c)));

    [Fact] public void Idct2() => GradientProperty.Check(Planes(1), (x, c) => F.Idct2(x[0], Impl(c)));

    /// <summary>K is kept positive (as ReLU leaves it in the model), though the formula holds for any K.</summary>
    [Fact] public void HeatDecay() => GradientProperty.Check(Planes(1), (x, c) => F.HeatDecay(x[0]), _ => Values.Positive);

    /// <summary>u (B, H, W, C) in any layout (a stepped last axis is a channel slice) and decay (H, W, C).</summary>
    [Fact]
    public void HeatConduction() => GradientProperty.Check(Arbitrary(Of(
        from s in Shape(4, 4)
        select new[] { s, s[1..] }), c => c.Operands[0].Shape.Length == 4 && c.Operands[1].Shape.AsSpan().SequenceEqual(c.Operands[0].Shape.AsSpan(1))),
        (x, c) => F.HeatConduction(x[0], x[1]));

    /// <summary>u and K share the plane shape; K broadcasts over u's leading axes when the case expands it.</summary>
    [Fact]
    public void HeatPath() => GradientProperty.Check(Planes(2),
        (x, c) => F.Idct2(F.Dct2(x[0], Impl(c)) * F.HeatDecay(x[1]), Impl(c)), i => i == 1 ? Values.Positive : Values.Normal);
}
