using System.Diagnostics;
using Engine.Autograd;

namespace Engine;

// Matrix products with PyTorch's matmul rules: 1-D operands are promoted to matrices and the added
// dimension removed afterwards; batch dimensions broadcast.
public sealed partial class Tensor
{
    /// <summary>Matrix product with batch broadcasting, as <c>torch.matmul</c>.</summary>
    public Tensor MatMul(Tensor other)
    {
        CheckOperands("matmul", this, other);
        if (Rank == 0 || other.Rank == 0)
            throw new ArgumentException($"matmul: both arguments need at least 1 dimension, but got shapes {Shp(this)} and {Shp(other)}.");
        // Promote vectors: (k) @ (..., k, n) treats the left as (1, k); (..., m, k) @ (k) treats the right as (k, 1).
        // Only the promoted vectors are new handles; matrices are used as they are (no extra tape entries).
        using var promotedA = Rank == 1 ? Unsqueeze(0) : null;
        using var promotedB = other.Rank == 1 ? other.Unsqueeze(-1) : null;
        var a = promotedA ?? this;
        var b = promotedB ?? other;
        if (a.Layout.Shape[^1] != b.Layout.Shape[^2])
            throw new ArgumentException($"matmul: shapes {Shp(this)} and {Shp(other)} cannot be multiplied ({a.Layout.Shape[^2]}x{a.Layout.Shape[^1]} and {b.Layout.Shape[^2]}x{b.Layout.Shape[^1]}).");
        try { Layout.BroadcastShapes("matmul", a.Layout.Shape[..^2], b.Layout.Shape[..^2]); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"matmul: shapes {Shp(this)} and {Shp(other)} cannot be multiplied: their batch dimensions " +
                $"{Layout.Format(a.Layout.Shape[..^2])} and {Layout.Format(b.Layout.Shape[..^2])} do not broadcast.", e);
        }
        var result = MatMul2D(a, b);
        if (Rank > 1 && other.Rank > 1) return result;
        using (result)
        {
            var shape = result.Shape.ToList();
            if (other.Rank == 1) shape.RemoveAt(shape.Count - 1);
            if (Rank == 1) shape.RemoveAt(shape.Count - (other.Rank == 1 ? 1 : 2));
            return result.Reshape(shape.ToArray());
        }
    }

    /// <summary>The product of operands that are at least 2-D, broadcasting the batch dimensions.</summary>
    private static Tensor MatMul2D(Tensor a, Tensor b)
    {
        long t0 = Stopwatch.GetTimestamp();
        int m = a.Layout.Shape[^2], k = a.Layout.Shape[^1], n = b.Layout.Shape[^1];
        var batch = Layout.BroadcastShapes("matmul", a.Layout.Shape[..^2], b.Layout.Shape[..^2]);
        int[] aFull = [.. batch, m, k], bFull = [.. batch, k, n], cShape = [.. batch, m, n];
        var c = Empty(cShape, a.DType, a.Device);
        using (Tape.NoGrad())
        {
            using var ae = a.Expand(aFull);
            using var be = b.Expand(bFull);
            a.Backend.MatMul(ae, be, c);
        }
        if (Tape.ShouldRecord(a, b))
        {
            var sa = Tape.Save(a);
            var sb = Tape.Save(b);
            bool needA = a.RequiresGrad, needB = b.RequiresGrad;
            var aShape = a.Layout.Shape; var bShape = b.Layout.Shape;
            Tape.Record("matmul", [a, b], [c], g =>
            {
                if (needA && needB && !Tape.ShouldRecord(g[0], sa.Value, sb.Value))
                    return BothGradients(g[0], sa.Value, sb.Value, aShape, bShape);
                Tensor? ga = null, gb = null;
                if (needA)
                {
                    using var bt = sb.Value.Transpose(-2, -1);
                    using var full = MatMul2D(g[0], bt);
                    ga = full.SumTo(aShape);
                }
                if (needB)
                {
                    using var at = sa.Value.Transpose(-2, -1);
                    using var full = MatMul2D(at, g[0]);
                    gb = full.SumTo(bShape);
                }
                return [ga, gb];
            }, [sa, sb], t0);
        }
        return c;
    }

    /// <summary>
    /// Both gradients of c = a @ b, dA = g @ bᵀ and dB = aᵀ @ g (summed to the operands' shapes), as MatMul2D gives them,
    /// handed to the backend as one pair of independent products that it may run at the same time. Only where no graph
    /// of the backward is recorded (the pair goes to the backend directly).
    /// </summary>
    private static Tensor?[] BothGradients(Tensor g, Tensor a, Tensor b, int[] aShape, int[] bShape)
    {
        using var bt = b.Transpose(-2, -1);
        using var at = a.Transpose(-2, -1);
        int m = g.Layout.Shape[^2], n = g.Layout.Shape[^1], k = a.Layout.Shape[^1];
        var batch = g.Layout.Shape[..^2];
        using var fullA = Empty([.. batch, m, k], g.DType, g.Device);
        using var fullB = Empty([.. batch, k, n], at.DType, at.Device);
        using (Tape.NoGrad())
        {
            using var ge = g.Expand([.. batch, m, n]);
            using var bte = bt.Expand([.. batch, n, k]);
            using var ate = at.Expand([.. batch, k, m]);
            g.Backend.MatMulPair(ge, bte, fullA, ate, ge, fullB);
        }
        return [fullA.SumTo(aShape), fullB.SumTo(bShape)];
    }
}
