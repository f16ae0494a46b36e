using System.Diagnostics;
using Engine.Autograd;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// softmax(q·kᵀ · scale)·v over the last two dimensions, as PyTorch's <c>F.scaled_dot_product_attention</c>
    /// without mask, dropout or causality: q (*, L, E), k (*, S, E), v (*, S, Ev) give (*, L, Ev), with
    /// the leading dimensions broadcast (for example queries without a batch axis against batched keys).
    /// Queries and keys may differ in length (cross-attention). One taped node with its own backward: the
    /// forward is a batched GEMM, a numerically stable row softmax in place and a second GEMM; the
    /// probabilities are saved for the backward. Operands are read through their strides, so head views
    /// made by a permute are not copied.
    /// </summary>
    /// <param name="query">Queries, shape (*, L, E).</param>
    /// <param name="key">Keys, shape (*, S, E).</param>
    /// <param name="value">Values, shape (*, S, Ev).</param>
    /// <param name="scale">Factor applied to the logits; default 1/sqrt(E).</param>
    public static Tensor ScaledDotProductAttention(Tensor query, Tensor key, Tensor value, double? scale = null)
    {
        const string op = "scaled_dot_product_attention";
        FamilyGuards.Float(op, query, "query");
        FamilyGuards.Float(op, key, "key");
        FamilyGuards.Float(op, value, "value");
        FamilyGuards.Cpu(op, query, key, value);
        FamilyGuards.SameDevice(op, query, key, "query", "key");
        FamilyGuards.SameDevice(op, query, value, "query", "value");
        string shapes = $"query {FamilyGuards.Shape(query)}, key {FamilyGuards.Shape(key)}, value {FamilyGuards.Shape(value)}";
        if (query.DType != key.DType || query.DType != value.DType)
            throw new ArgumentException($"{op}: expected query, key and value to have the same dtype, but got {query.DType.TorchName()}, {key.DType.TorchName()} and {value.DType.TorchName()} ({shapes}).");
        if (query.Rank < 2 || key.Rank < 2 || value.Rank < 2)
            throw new ArgumentException($"{op}: expected query, key and value of rank at least 2 (*, L, E), but got {shapes}.");
        var (qs, ks, vs) = (query.Layout.Shape, key.Layout.Shape, value.Layout.Shape);
        if (qs[^1] != ks[^1])
            throw new ArgumentException($"{op}: the embedding size of query and key must match (E), but got {shapes}.");
        if (ks[^2] != vs[^2])
            throw new ArgumentException($"{op}: key and value must have the same sequence length (S), but got {shapes}.");
        int[] batch;
        try { batch = Layout.BroadcastShapes(op, qs[..^2], ks[..^2], vs[..^2]); }
        catch (ArgumentException)
        {
            throw new ArgumentException($"{op}: the batch dimensions of query, key and value do not broadcast ({shapes}).");
        }
        double s = scale ?? 1.0 / Math.Sqrt(qs[^1]);

        // Broadcasting is done by expand views (recorded as their own nodes, whose backward sums), so
        // the fused node below always sees equal batch dimensions.
        var q = Broadcast(query, batch);
        var k = Broadcast(key, batch);
        var v = Broadcast(value, batch);
        try { return AttentionFunction.Apply(op, q, k, v, s); }
        finally
        {
            if (!ReferenceEquals(q, query)) q.Dispose();
            if (!ReferenceEquals(k, key)) k.Dispose();
            if (!ReferenceEquals(v, value)) v.Dispose();
        }
    }

    /// <summary>The tensor itself when its batch dimensions already are <paramref name="batch"/>, else an expanded view.</summary>
    private static Tensor Broadcast(Tensor t, int[] batch)
    {
        var shape = t.Layout.Shape;
        if (shape.Length - 2 == batch.Length && shape.AsSpan(0, batch.Length).SequenceEqual(batch)) return t;
        return t.Expand([.. batch, shape[^2], shape[^1]]);
    }
}

/// <summary>The fused attention node: forward, saved probabilities, backward.</summary>
internal static class AttentionFunction
{
    public static Tensor Apply(string op, Tensor q, Tensor k, Tensor v, double scale)
    {
        long t0 = Stopwatch.GetTimestamp();
        var geometry = AttentionGeometry.Of(q, k, v);
        var dtype = q.DType;
        var output = AttentionGeometry.EmptyLike(q, geometry.Ev);
        var probabilities = Tensor.Empty([.. q.Layout.Shape[..^1], geometry.S], dtype, q.Device);
        AttentionKernels.Forward(geometry, q, k, v, scale, probabilities, output);
        if (Tape.ShouldRecord(q, k, v))
        {
            var sq = Tape.Save(q); var sk = Tape.Save(k); var sv = Tape.Save(v); var sp = Tape.Save(probabilities);
            bool needQ = q.RequiresGrad, needK = k.RequiresGrad, needV = v.RequiresGrad;
            Tape.Record(op, [q, k, v], [output], g =>
            {
                // The output gradient is read through its strides when its rows are contiguous (the usual
                // case: the gradient of the head merge is the permuted view of a dense (B, L, h, d) tensor).
                using var go = g[0].Layout.Strides[^1] == 1 || g[0].Layout.Shape[^1] <= 1 ? g[0].Alias() : FamilyGuards.Dense(g[0]);
                var dq = needQ ? AttentionGeometry.EmptyLike(sq.Value, geometry.E) : null;
                var dk = needK ? AttentionGeometry.EmptyLike(sk.Value, geometry.E) : null;
                var dv = needV ? AttentionGeometry.EmptyLike(sv.Value, geometry.Ev) : null;
                var geo = AttentionGeometry.Of(sq.Value, sk.Value, sv.Value);
                AttentionKernels.Backward(geo, sq.Value, sk.Value, sv.Value, sp.Value, go, scale, dq, dk, dv);
                return [dq, dk, dv];
            }, [sq, sk, sv, sp], t0);
        }
        probabilities.Dispose();
        return output;
    }
}
