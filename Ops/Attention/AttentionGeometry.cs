namespace Engine.Ops;

/// <summary>
/// The shapes of one attention call: <c>Count</c> independent (L, E) x (S, E) x (S, Ev) problems, the batch
/// dimensions (equal for the three operands: the op broadcasts them first) flattened in row-major order.
/// </summary>
internal sealed class AttentionGeometry
{
    public required int L, S, E, Ev;
    public required long Count;

    /// <summary>The batch dimensions shared by the operands (all but the last two).</summary>
    public required int[] Batch;

    public static AttentionGeometry Of(Tensor q, Tensor k, Tensor v) => new()
    {
        L = q.Layout.Shape[^2], E = q.Layout.Shape[^1], S = k.Layout.Shape[^2], Ev = v.Layout.Shape[^1],
        Batch = q.Layout.Shape[..^2],
        Count = Layout.Count(q.Layout.Shape.AsSpan(0, q.Rank - 2)),
    };

    /// <summary>
    /// An uninitialised tensor of <paramref name="like"/>'s shape with its last size replaced, on its device, laid
    /// out densely in the order of <paramref name="like"/>'s strides (as PyTorch's preserve-format): for head views
    /// of (B, L, h, d) data the result is (B, L, h, d) memory seen as (B, h, L, d), so merging the heads back is a
    /// view, and the gradients flowing back into the head views need no copy either. The last axis stays innermost.
    /// </summary>
    public static Tensor EmptyLike(Tensor like, int last)
    {
        var shape = like.Layout.Shape; var strides = like.Layout.Strides;
        int r = shape.Length;
        var order = Enumerable.Range(0, r - 1).OrderByDescending(d => shape[d] == 1 ? long.MaxValue : strides[d]).Append(r - 1).ToArray();
        int[] outShape = [.. shape[..^1], last];
        if (order.Select((d, i) => d == i).All(x => x)) return Tensor.Empty(outShape, like.DType, like.Device);
        using var dense = Tensor.Empty(order.Select(d => outShape[d]).ToArray(), like.DType, like.Device);
        var back = new int[r];
        for (int i = 0; i < r; i++) back[order[i]] = i;
        using var noGrad = Autograd.Tape.NoGrad();
        return dense.Permute(back);
    }
}
