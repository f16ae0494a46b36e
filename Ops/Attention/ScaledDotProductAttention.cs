using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// softmax(q·kᵀ · scale)·v over the last two dimensions, as PyTorch's <c>F.scaled_dot_product_attention</c>
    /// without mask, dropout or causality: q (*, L, E), k (*, S, E), v (*, S, Ev) give (*, L, Ev), with
    /// the leading dimensions broadcast (for example queries without a batch axis against batched keys).
    /// Queries and keys may differ in length (cross-attention). One taped node with its own backward. On the
    /// CPU (<c>ScaledDotProductAttention.Cpu.cs</c>) and on CUDA for short sequences
    /// (<c>ScaledDotProductAttention.Cuda.cs</c>, cuBLAS) the forward is a batched GEMM, a numerically stable row
    /// softmax in place and a second GEMM, and the probabilities are saved for the backward; on CUDA for long
    /// sequences (<c>FlashAttention.Cuda.cs</c>) it is one fused FlashAttention-2 kernel that saves only the
    /// log-sum-exp of each query row (<see cref="AttentionPaths"/> chooses). Operands are read through their
    /// strides, so head views made by a permute are not copied.
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

/// <summary>
/// The fused attention node: the path (<see cref="AttentionPaths"/>), the forward, what it saves, the backward,
/// and one switch on the device per kernel call.
/// </summary>
internal static class AttentionFunction
{
    public static Tensor Apply(string op, Tensor q, Tensor k, Tensor v, double scale)
    {
        long t0 = Stopwatch.GetTimestamp();
        var geometry = AttentionGeometry.Of(q, k, v);
        var output = AttentionGeometry.EmptyLike(q, geometry.Ev);
        return AttentionPaths.Choose(geometry, q, k, v) == AttentionPath.Flash
            ? WithLogSumExp(op, geometry, q, k, v, scale, output, t0)
            : WithProbabilities(op, geometry, q, k, v, scale, output, t0);
    }

    private static Tensor WithProbabilities(string op, AttentionGeometry geometry, Tensor q, Tensor k, Tensor v, double scale, Tensor output, long t0)
    {
        using var probabilities = Tensor.Empty([.. q.Layout.Shape[..^1], geometry.S], q.DType, q.Device);
        ForwardWithProbabilities(geometry, q, k, v, scale, probabilities, output);
        if (!Tape.ShouldRecord(q, k, v)) return output;
        var sq = Tape.Save(q); var sk = Tape.Save(k); var sv = Tape.Save(v); var sp = Tape.Save(probabilities);
        bool needQ = q.RequiresGrad, needK = k.RequiresGrad, needV = v.RequiresGrad;
        Tape.Record(op, [q, k, v], [output], g =>
        {
            using var go = RowsContiguous(g[0]);
            var (dq, dk, dv) = Gradients(geometry, sq.Value, sk.Value, sv.Value, needQ, needK, needV);
            BackwardWithProbabilities(geometry, sq.Value, sk.Value, sv.Value, sp.Value, go, scale, dq, dk, dv);
            return [dq, dk, dv];
        }, [sq, sk, sv, sp], t0);
        return output;
    }

    private static Tensor WithLogSumExp(string op, AttentionGeometry geometry, Tensor q, Tensor k, Tensor v, double scale, Tensor output, long t0)
    {
        using var logSumExp = Tensor.Empty(q.Layout.Shape[..^1], q.DType, q.Device);
        ForwardFused(geometry, q, k, v, scale, output, logSumExp);
        if (!Tape.ShouldRecord(q, k, v)) return output;
        // The output is saved too (under the tape's version check): the backward's rowsum(dO ∘ O) needs it.
        var sq = Tape.Save(q); var sk = Tape.Save(k); var sv = Tape.Save(v); var so = Tape.Save(output); var sl = Tape.Save(logSumExp);
        bool needQ = q.RequiresGrad, needK = k.RequiresGrad, needV = v.RequiresGrad;
        Tape.Record(op, [q, k, v], [output], g =>
        {
            var (dq, dk, dv) = Gradients(geometry, sq.Value, sk.Value, sv.Value, needQ, needK, needV);
            BackwardFused(geometry, sq.Value, sk.Value, sv.Value, so.Value, sl.Value, g[0], scale, dq, dk, dv);
            return [dq, dk, dv];
        }, [sq, sk, sv, so, sl], t0);
        return output;
    }

    /// <summary>
    /// The output gradient read through its strides when its rows are contiguous (the usual case: the gradient of
    /// the head merge is the permuted view of a dense (B, L, h, d) tensor), else a dense copy.
    /// </summary>
    private static Tensor RowsContiguous(Tensor g) => g.Layout.Strides[^1] == 1 || g.Layout.Shape[^1] <= 1 ? g.Alias() : FamilyGuards.Dense(g);

    /// <summary>The gradients to compute, laid out as their operands (null where none is needed).</summary>
    private static (Tensor? Dq, Tensor? Dk, Tensor? Dv) Gradients(AttentionGeometry g, Tensor q, Tensor k, Tensor v, bool needQ, bool needK, bool needV) =>
        (needQ ? AttentionGeometry.EmptyLike(q, g.E) : null, needK ? AttentionGeometry.EmptyLike(k, g.E) : null, needV ? AttentionGeometry.EmptyLike(v, g.Ev) : null);

    private static void ForwardWithProbabilities(AttentionGeometry g, Tensor q, Tensor k, Tensor v, double scale, Tensor p, Tensor o)
    {
        switch (q.Device.Type)
        {
            case DeviceType.Cpu: AttentionCpu.Forward(g, q, k, v, scale, p, o); break;
            case DeviceType.Cuda: AttentionCuda.Forward(g, q, k, v, scale, p, o); break;
            default: throw Kernel.Missing("scaled_dot_product_attention", q);
        }
    }

    private static void BackwardWithProbabilities(AttentionGeometry g, Tensor q, Tensor k, Tensor v, Tensor p, Tensor go, double scale, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        switch (q.Device.Type)
        {
            case DeviceType.Cpu: AttentionCpu.Backward(g, q, k, v, p, go, scale, dq, dk, dv); break;
            case DeviceType.Cuda: AttentionCuda.Backward(g, q, k, v, p, go, scale, dq, dk, dv); break;
            default: throw Kernel.Missing("scaled_dot_product_attention_backward", q);
        }
    }

    private static void ForwardFused(AttentionGeometry g, Tensor q, Tensor k, Tensor v, double scale, Tensor o, Tensor logSumExp)
    {
        switch (q.Device.Type)
        {
            case DeviceType.Cuda: FlashAttentionCuda.Forward(g, q, k, v, scale, o, logSumExp); break;
            default: throw Kernel.Missing("scaled_dot_product_attention (fused)", q);
        }
    }

    private static void BackwardFused(AttentionGeometry g, Tensor q, Tensor k, Tensor v, Tensor o, Tensor logSumExp, Tensor go, double scale, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        switch (q.Device.Type)
        {
            case DeviceType.Cuda: FlashAttentionCuda.Backward(g, q, k, v, o, logSumExp, go, scale, dq, dk, dv); break;
            default: throw Kernel.Missing("scaled_dot_product_attention_backward (fused)", q);
        }
    }
}
