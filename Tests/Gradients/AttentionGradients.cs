using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>
/// Gradients of the fused scaled dot-product attention for query, key and value: random batch ranks
/// (0 to 2, broadcast between the operands), self- and cross-attention lengths, size-1 and empty
/// dimensions, every layout, and a scale from the case.
/// </summary>
public class AttentionGradients
{
    private static readonly Gen<int> Small = Gen.Frequency((1, Gen.Constant(0)), (4, Gen.Constant(1)), (10, Gen.Choose(2, 4)));

    /// <summary>q (*, L, E), k (*, S, E), v (*, S, Ev); batch shapes broadcastable to a common one.</summary>
    private static readonly Gen<int[][]> Shapes =
        from batch in Shape(0, 2)
        from qb in BroadcastableTo(batch)
        from kb in BroadcastableTo(batch)
        from vb in BroadcastableTo(batch)
        from l in Small
        from s in Small
        from e in Small
        from ev in Small
        where Layout.Count(batch) * (l * e + s * e + s * ev) <= 3 * MaxElements
        select new[] { (int[])[.. qb, l, e], [.. kb, s, e], [.. vb, s, ev] };

    private static bool Valid(Case c)
    {
        var (q, k, v) = (c.Operands[0].Shape, c.Operands[1].Shape, c.Operands[2].Shape);
        if (q.Length < 2 || k.Length < 2 || v.Length < 2) return false;
        if (q[^1] != k[^1] || k[^2] != v[^2]) return false;
        try { Layout.BroadcastShapes("check", q[..^2], k[..^2], v[..^2]); return true; }
        catch (ArgumentException) { return false; }
    }

    private static double? Scale(Case c) => (c.Choice % 3) switch { 0 => null, 1 => 0.7, _ => 2.5 };

    [Fact]
    public void ScaledDotProductAttention() => GradientProperty.Check(Arbitrary(Of(Shapes), Valid),
        (x, c) => F.ScaledDotProductAttention(x[0], x[1], x[2], Scale(c)));

    /// <summary>Attention feeding itself (the output as the next queries), so upstream gradients are not the checker's projection alone.</summary>
    [Fact]
    public void ScaledDotProductAttentionComposed() => GradientProperty.Check(Arbitrary(Of(Shapes), c => Valid(c) && c.Operands[2].Shape[^1] == c.Operands[0].Shape[^1]),
        (x, c) => F.ScaledDotProductAttention(F.ScaledDotProductAttention(x[0] * 2.0, x[1], x[2], Scale(c)).Tanh(), x[1], x[2]), cases: 50);
}
