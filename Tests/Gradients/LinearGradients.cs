using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>Gradients of the fused linear layer for input, weight and bias; the choice decides whether a bias is passed.</summary>
public class LinearGradients
{
    /// <summary>x (*, in), weight (out, in), bias (out).</summary>
    private static readonly Gen<int[][]> Shapes =
        from x in Shape(1, 4)
        from outFeatures in Gen.Choose(0, 5)
        select new[] { x, new[] { outFeatures, x[^1] }, new[] { outFeatures } };

    private static bool Valid(Case c)
    {
        var (x, w, b) = (c.Operands[0].Shape, c.Operands[1].Shape, c.Operands[2].Shape);
        return x.Length >= 1 && w.Length == 2 && w[1] == x[^1] && b.Length == 1 && b[0] == w[0];
    }

    [Fact]
    public void Linear() => GradientProperty.Check(Arbitrary(Of(Shapes), Valid),
        (x, c) => F.Linear(x[0], x[1], c.Choice % 2 == 0 ? x[2] : null));
}
