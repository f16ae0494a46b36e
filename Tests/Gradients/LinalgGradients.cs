using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;

namespace Engine.Tests.Gradients;

/// <summary>Gradients of matmul for vectors, matrices and broadcast batches.</summary>
public class LinalgGradients
{
    private static readonly Gen<int> Dim = Gen.Choose(1, 4);

    /// <summary>(..., m, k) @ (..., k, n) with batch shapes that broadcast, and the 1-D forms.</summary>
    private static readonly Gen<int[][]> Shapes =
        from m in Dim
        from k in Gen.Choose(0, 4)
        from n in Dim
        from form in Gen.Choose(0, 4)
        from batch in Shape(0, 2).Where(s => s.All(d => d > 0) && Layout.Count(s) <= 6)
        from other in BroadcastableTo(batch)
        select form switch
        {
            0 => new[] { new[] { k }, new[] { k } },
            1 => new[] { new[] { k }, (int[])[.. batch, k, n] },
            2 => new[] { (int[])[.. batch, m, k], new[] { k } },
            _ => new[] { (int[])[.. batch, m, k], (int[])[.. other, k, n] },
        };

    private static bool Valid(Case c)
    {
        var a = c.Operands[0].Shape; var b = c.Operands[1].Shape;
        if (a.Length == 0 || b.Length == 0) return false;
        int ka = a[^1], kb = b.Length == 1 ? b[0] : b[^2];
        if (ka != kb) return false;
        try { Layout.BroadcastShapes("check", a.Length > 2 ? a[..^2] : [], b.Length > 2 ? b[..^2] : []); return true; }
        catch (ArgumentException) { return false; }
    }

    [Fact]
    public void MatMul() => GradientProperty.Check(Arbitrary(Of(Shapes), Valid), (x, c) => x[0].MatMul(x[1]));

    [Fact]
    public void MatMulTransposedOperand() => GradientProperty.Check(Arbitrary(Of(Shapes), Valid), (x, c) =>
    {
        // The same product with the right operand read through a transposed view.
        var b = x[1];
        if (b.Rank < 2) return x[0].MatMul(b);
        using var bt = b.Transpose(-2, -1).Contiguous();
        return x[0].MatMul(bt.Transpose(-2, -1));
    });
}
