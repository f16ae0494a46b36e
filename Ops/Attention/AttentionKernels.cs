using System.Numerics;
using System.Numerics.Tensors;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// A batch of matrices inside one tensor of shape (*, rows, cols): the element offset of each matrix (batch
/// index in row-major order) and the row and column strides they share.
/// </summary>
internal sealed record MatrixBatch(long[] Offsets, long Row, long Col)
{
    public static MatrixBatch Of(Tensor t)
    {
        var shape = t.Layout.Shape; var strides = t.Layout.Strides;
        int batchRank = shape.Length - 2;
        var offsets = new long[Layout.Count(shape.AsSpan(0, batchRank))];
        for (long i = 0; i < offsets.Length; i++)
        {
            long rest = i, at = 0;
            for (int d = batchRank - 1; d >= 0; d--)
            {
                at += rest % shape[d] * strides[d];
                rest /= shape[d];
            }
            offsets[i] = at;
        }
        return new MatrixBatch(offsets, strides[^2], strides[^1]);
    }
}

/// <summary>
/// Shapes and per-matrix addressing of one attention call: <c>Count</c> independent (L, E) x (S, E) x (S, Ev)
/// problems, each operand read at its own offsets and row/column strides (so permuted head views need no copy).
/// </summary>
internal sealed class AttentionGeometry
{
    public required int L, S, E, Ev;
    public required long Count;
    public required MatrixBatch Q, K, V;

    public static AttentionGeometry Of(Tensor q, Tensor k, Tensor v) => new()
    {
        L = q.Layout.Shape[^2], E = q.Layout.Shape[^1], S = k.Layout.Shape[^2], Ev = v.Layout.Shape[^1],
        Count = Layout.Count(q.Layout.Shape.AsSpan(0, q.Rank - 2)),
        Q = MatrixBatch.Of(q), K = MatrixBatch.Of(k), V = MatrixBatch.Of(v),
    };

    /// <summary>
    /// An uninitialised tensor of <paramref name="like"/>'s shape with its last size replaced, laid out densely
    /// in the order of <paramref name="like"/>'s strides (as PyTorch's preserve-format): for head views of
    /// (B, L, h, d) data the result is (B, L, h, d) memory seen as (B, h, L, d), so merging the heads back is a
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

/// <summary>
/// CPU kernels of the fused attention. Each batch matrix is one work item handled by one thread with
/// small GEMMs (serial inside a parallel region), so results do not depend on the thread count.
/// </summary>
internal static unsafe class AttentionKernels
{
    /// <summary>p (contiguous) and o (unit column stride, any batch layout) from q, k, v.</summary>
    public static void Forward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, double scale, Tensor p, Tensor o)
    {
        var om = MatrixBatch.Of(o);
        if (q.DType == DType.F32)
            Forward<float>(g, CpuBackend.BasePointer(q), CpuBackend.BasePointer(k), CpuBackend.BasePointer(v), (float)scale, CpuBackend.BasePointer(p), CpuBackend.BasePointer(o), om);
        else
            Forward<double>(g, CpuBackend.BasePointer(q), CpuBackend.BasePointer(k), CpuBackend.BasePointer(v), scale, CpuBackend.BasePointer(p), CpuBackend.BasePointer(o), om);
    }

    /// <summary>The gradients (unit column stride, any batch layout; null when not needed) from the output gradient <paramref name="go"/> (unit column stride).</summary>
    public static void Backward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, Tensor p, Tensor go, double scale, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        nint Ptr(Tensor? t) => t is null ? 0 : CpuBackend.BasePointer(t);
        var m = new Grads(MatrixBatch.Of(go), dq is null ? null : MatrixBatch.Of(dq), dk is null ? null : MatrixBatch.Of(dk), dv is null ? null : MatrixBatch.Of(dv));
        if (q.DType == DType.F32)
            Backward<float>(g, Ptr(q), Ptr(k), Ptr(v), Ptr(p), Ptr(go), (float)scale, Ptr(dq), Ptr(dk), Ptr(dv), m);
        else
            Backward<double>(g, Ptr(q), Ptr(k), Ptr(v), Ptr(p), Ptr(go), scale, Ptr(dq), Ptr(dk), Ptr(dv), m);
    }

    private sealed record Grads(MatrixBatch Go, MatrixBatch? Dq, MatrixBatch? Dk, MatrixBatch? Dv);

    private static void Forward<T>(AttentionGeometry g, nint qb, nint kb, nint vb, T scale, nint pb, nint ob, MatrixBatch om) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int l = g.L, s = g.S, e = g.E, ev = g.Ev;
        double cost = 2.0 * l * s * (e + ev) + 8.0 * l * s;
        CpuParallel.For(g.Count, cost, (start, end) =>
        {
            var kT = new T[(long)e * s];
            var vPack = new T[g.V.Col == 1 ? 0 : (long)s * ev];
            fixed (T* kt = kT, vp = vPack)
                for (long i = start; i < end; i++)
                {
                    T* q = (T*)qb + g.Q.Offsets[i], k = (T*)kb + g.K.Offsets[i], v = (T*)vb + g.V.Offsets[i];
                    T* p = (T*)pb + i * l * s, o = (T*)ob + om.Offsets[i];
                    // logits = scale * q kᵀ, written straight into the probability rows, then softmax in place.
                    AttentionGemm.Pack(k, e, s, g.K.Col, g.K.Row, kt);
                    AttentionGemm.Multiply(l, s, e, scale, q, g.Q.Row, g.Q.Col, kt, s, p, s);
                    if (s > 0)
                        for (int r = 0; r < l; r++)
                        {
                            var row = new Span<T>(p + (long)r * s, s);
                            SoftmaxKernels.RowForward<T>(row, row, null, log: false);
                        }
                    var (vr, vld) = Rows(v, s, ev, g.V.Row, g.V.Col, vp);
                    AttentionGemm.Multiply(l, ev, s, T.One, p, s, 1, (T*)vr, vld, o, om.Row);
                }
        });
    }

    private static void Backward<T>(AttentionGeometry g, nint qb, nint kb, nint vb, nint pb, nint gob, T scale, nint dqb, nint dkb, nint dvb, Grads m) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int l = g.L, s = g.S, e = g.E, ev = g.Ev;
        double cost = 4.0 * l * s * (e + ev) + 6.0 * l * s;
        CpuParallel.For(g.Count, cost, (start, end) =>
        {
            var dsScratch = new T[(long)l * s];
            var vT = new T[(long)ev * s];
            var pack = new T[Math.Max((long)s * e, (long)l * e)];
            fixed (T* ds = dsScratch, vt = vT, pk = pack)
                for (long i = start; i < end; i++)
                {
                    T* q = (T*)qb + g.Q.Offsets[i], k = (T*)kb + g.K.Offsets[i], v = (T*)vb + g.V.Offsets[i];
                    T* p = (T*)pb + i * l * s, go = (T*)gob + m.Go.Offsets[i];
                    long gld = m.Go.Row;
                    if (dvb != 0) AttentionGemm.Multiply(s, ev, l, T.One, p, 1, s, go, gld, (T*)dvb + m.Dv!.Offsets[i], m.Dv.Row); // dv = pᵀ go
                    if (dqb == 0 && dkb == 0) continue;
                    AttentionGemm.Pack(v, ev, s, g.V.Col, g.V.Row, vt);
                    AttentionGemm.Multiply(l, s, ev, T.One, go, gld, 1, vt, s, ds, s);                                // dp = go vᵀ
                    for (int r = 0; r < l; r++)
                    {
                        // Softmax backward on one row: ds = p * (dp - <dp, p>).
                        var pr = new ReadOnlySpan<T>(p + (long)r * s, s);
                        var dr = new Span<T>(ds + (long)r * s, s);
                        T dot = TensorPrimitives.Dot<T>(dr, pr);
                        TensorPrimitives.Subtract<T>(dr, dot, dr);
                        TensorPrimitives.Multiply<T>(dr, pr, dr);
                    }
                    if (dqb != 0)
                    {
                        var (kr, kld) = Rows(k, s, e, g.K.Row, g.K.Col, pk);
                        AttentionGemm.Multiply(l, e, s, scale, ds, s, 1, (T*)kr, kld, (T*)dqb + m.Dq!.Offsets[i], m.Dq.Row);           // dq = scale ds k
                    }
                    if (dkb != 0)
                    {
                        var (qr, qld) = Rows(q, l, e, g.Q.Row, g.Q.Col, pk);
                        AttentionGemm.Multiply(s, e, l, scale, ds, 1, s, (T*)qr, qld, (T*)dkb + m.Dk!.Offsets[i], m.Dk.Row);           // dk = scale dsᵀ q
                    }
                }
        });
    }

    /// <summary>The matrix itself when its rows are contiguous, else a row-major copy in <paramref name="scratch"/>; with the row stride to use.</summary>
    private static (nint Rows, long Stride) Rows<T>(T* m, int rows, int cols, long rowStride, long colStride, T* scratch) where T : unmanaged
    {
        if (colStride == 1 || cols <= 1) return ((nint)m, rowStride);
        AttentionGemm.Pack(m, rows, cols, rowStride, colStride, scratch);
        return ((nint)scratch, cols);
    }
}
