using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>Input, weight and bias gradients of the channels-last depthwise convolution (odd kernels 1 and 3, any layout).</summary>
public class DepthwiseChannelsLastGradients
{
    private static readonly Gen<int[][]> Shapes =
        from n in Gen.Choose(0, 2)
        from h in Gen.Choose(1, 4)
        from w in Gen.Choose(1, 4)
        from c in Gen.Choose(1, 3)
        from kh in Gen.Elements(1, 3)
        from kw in Gen.Elements(1, 3)
        where n * h * w * c <= MaxElements
        select new[] { new[] { n, h, w, c }, new[] { c, 1, kh, kw }, new[] { c } };

    private static bool Valid(Case c)
    {
        var (x, w, b) = (c.Operands[0].Shape, c.Operands[1].Shape, c.Operands[2].Shape);
        return x.Length == 4 && w.Length == 4 && b.Length == 1 && w[0] == x[3] && w[1] == 1 && w[2] % 2 == 1 && w[3] % 2 == 1 && b[0] == x[3];
    }

    [Fact]
    public void DepthwiseConv2dChannelsLast() => GradientProperty.Check(Arbitrary(Of(Shapes), Valid),
        (x, c) => F.DepthwiseConv2dChannelsLast(x[0], x[1], c.Choice % 2 == 0 ? x[2] : null));
}
