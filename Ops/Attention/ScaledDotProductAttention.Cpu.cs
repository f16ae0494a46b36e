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
/// Attention on the CPU, the path with saved probabilities: each batch matrix is one work item handled by one
/// thread (the forward with <see cref="AttentionGemm"/>'s unpacked tiles, the backward with the packed GEMM, both
/// serial inside the parallel region), so results do not depend on the thread count.
/// Every operand is read at its own per-matrix offsets and row/column strides, so permuted head views need no copy.
/// </summary>
internal static unsafe class AttentionCpu
{
    /// <summary>Where each operand's matrices are: offsets per batch index and the row/column strides.</summary>
    private sealed record Operands(MatrixBatch Q, MatrixBatch K, MatrixBatch V)
    {
        public static Operands Of(Tensor q, Tensor k, Tensor v) => new(MatrixBatch.Of(q), MatrixBatch.Of(k), MatrixBatch.Of(v));
    }

    /// <summary>p (contiguous) and o (unit column stride, any batch layout) from q, k, v.</summary>
    public static void Forward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, double scale, Tensor p, Tensor o)
    {
        var om = MatrixBatch.Of(o);
        var ops = Operands.Of(q, k, v);
        if (q.DType == DType.F32)
            Forward<float>(g, ops, CpuBackend.BasePointer(q), CpuBackend.BasePointer(k), CpuBackend.BasePointer(v), (float)scale, CpuBackend.BasePointer(p), CpuBackend.BasePointer(o), om);
        else
            Forward<double>(g, ops, CpuBackend.BasePointer(q), CpuBackend.BasePointer(k), CpuBackend.BasePointer(v), scale, CpuBackend.BasePointer(p), CpuBackend.BasePointer(o), om);
    }

    /// <summary>The gradients (unit column stride, any batch layout; null when not needed) from the output gradient <paramref name="go"/> (unit column stride).</summary>
    public static void Backward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, Tensor p, Tensor go, double scale, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        nint Ptr(Tensor? t) => t is null ? 0 : CpuBackend.BasePointer(t);
        var ops = Operands.Of(q, k, v);
        var m = new Grads(MatrixBatch.Of(go), dq is null ? null : MatrixBatch.Of(dq), dk is null ? null : MatrixBatch.Of(dk), dv is null ? null : MatrixBatch.Of(dv));
        if (q.DType == DType.F32)
            Backward<float>(g, ops, Ptr(q), Ptr(k), Ptr(v), Ptr(p), Ptr(go), (float)scale, Ptr(dq), Ptr(dk), Ptr(dv), m);
        else
            Backward<double>(g, ops, Ptr(q), Ptr(k), Ptr(v), Ptr(p), Ptr(go), scale, Ptr(dq), Ptr(dk), Ptr(dv), m);
    }

    private sealed record Grads(MatrixBatch Go, MatrixBatch? Dq, MatrixBatch? Dk, MatrixBatch? Dv);

    private static void Forward<T>(AttentionGeometry g, Operands ops, nint qb, nint kb, nint vb, T scale, nint pb, nint ob, MatrixBatch om) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int l = g.L, s = g.S, e = g.E, ev = g.Ev;
        double cost = 2.0 * l * s * (e + ev) + 8.0 * l * s;
        CpuParallel.For(g.Count, cost, (start, end) =>
        {
            var kT = new T[(long)e * s];
            var vPack = new T[ops.V.Col == 1 ? 0 : (long)s * ev];
            fixed (T* kt = kT, vp = vPack)
                for (long i = start; i < end; i++)
                {
                    T* q = (T*)qb + ops.Q.Offsets[i], k = (T*)kb + ops.K.Offsets[i], v = (T*)vb + ops.V.Offsets[i];
                    T* p = (T*)pb + i * l * s, o = (T*)ob + om.Offsets[i];
                    // logits = scale * q kᵀ, written straight into the probability rows, then softmax in place.
                    AttentionGemm.Pack(k, e, s, ops.K.Col, ops.K.Row, kt);
                    AttentionGemm.Multiply(l, s, e, scale, q, ops.Q.Row, ops.Q.Col, kt, s, p, s);
                    if (s > 0)
                        for (int r = 0; r < l; r++)
                        {
                            var row = new Span<T>(p + (long)r * s, s);
                            SoftmaxKernels.RowForward<T>(row, row, null, log: false);
                        }
                    var (vr, vld) = Rows(v, s, ev, ops.V.Row, ops.V.Col, vp);
                    AttentionGemm.Multiply(l, ev, s, T.One, p, s, 1, (T*)vr, vld, o, om.Row);
                }
        });
    }

    // The backward's four products per matrix are large at long sequences (L·S·E multiply-adds each, 67 M for
    // sdpa_self_1024), and there they go through the packed GEMM (serial inside this parallel region, its bits
    // independent of the thread count) rather than AttentionGemm's unpacked tiles: the products with a transposed
    // operand (pᵀ go, dsᵀ q) read a column of p or ds per multiply-add there, and the column strips of n = 64
    // outputs stream the whole L·S matrix once per strip (about twice the time at L = S = 1024). Small products
    // (Dual-ViT's heads, 16 x 64 x 16) keep the unpacked tiles, which need no packing. The row softmax backward
    // runs right after dp's product: one dot and one fused (dp - dot)·p pass over an L1-resident row.
    private static void Backward<T>(AttentionGeometry g, Operands ops, nint qb, nint kb, nint vb, nint pb, nint gob, T scale, nint dqb, nint dkb, nint dvb, Grads m) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int l = g.L, s = g.S, e = g.E, ev = g.Ev;
        double cost = 4.0 * l * s * (e + ev) + 6.0 * l * s;
        CpuParallel.For(g.Count, cost, (start, end) =>
        {
            var dsScratch = dqb == 0 && dkb == 0 ? [] : new T[(long)l * s];
            var pack = new T[Math.Max((long)ev * s, Math.Max((long)s * e, (long)l * e))];
            fixed (T* ds = dsScratch, pk = pack)
                for (long i = start; i < end; i++)
                {
                    T* q = (T*)qb + ops.Q.Offsets[i], k = (T*)kb + ops.K.Offsets[i], v = (T*)vb + ops.V.Offsets[i];
                    T* p = (T*)pb + i * l * s, go = (T*)gob + m.Go.Offsets[i];
                    long gld = m.Go.Row;
                    if (dvb != 0) Product(s, ev, l, T.One, p, 1, s, go, gld, 1, (T*)dvb + m.Dv!.Offsets[i], m.Dv.Row, pk);              // dv = pᵀ go
                    if (dqb == 0 && dkb == 0) continue;
                    Product(l, s, ev, T.One, go, gld, 1, v, ops.V.Col, ops.V.Row, ds, s, pk);                                         // dp = go vᵀ
                    for (int r = 0; r < l; r++)
                    {
                        // Softmax backward on one row: ds = (dp - <dp, p>) · p.
                        var pr = new ReadOnlySpan<T>(p + (long)r * s, s);
                        var dr = new Span<T>(ds + (long)r * s, s);
                        T dot = TensorPrimitives.Dot<T>(dr, pr);
                        TensorPrimitives.AddMultiply<T>(dr, -dot, pr, dr);
                    }
                    if (dqb != 0) Product(l, e, s, scale, ds, s, 1, k, ops.K.Row, ops.K.Col, (T*)dqb + m.Dq!.Offsets[i], m.Dq.Row, pk);   // dq = scale ds k
                    if (dkb != 0) Product(s, e, l, scale, ds, 1, s, q, ops.Q.Row, ops.Q.Col, (T*)dkb + m.Dk!.Offsets[i], m.Dk.Row, pk);   // dk = scale dsᵀ q
                }
        });
    }

    // From 64³ multiply-adds on, the packed GEMM is level or ahead: same-process A/B of the whole backward, all
    // products on AttentionGemm against packed from here (loaded 2-vCPU Zen 4 VM, 2026-12-07, minima): 64 x 64 x 64
    // products 0.99, 96 x 96 x 32 0.90, 128² x 64 0.91, 256² x 64 0.87, 1024² x 64 0.41-0.52.
    private const long PackedFromWork = 64 * 64 * 64;

    /// <summary>
    /// C (m, n, unit column stride) = alpha · A · B, A and B read through their strides: through the packed GEMM
    /// from <see cref="PackedFromWork"/> multiply-adds on, else AttentionGemm's tiles (B copied row-major into
    /// <paramref name="scratch"/>, k·n elements, when its rows are not contiguous).
    /// </summary>
    private static void Product<T>(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long brs, long bcs, T* c, long ldc, T* scratch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if ((double)m * n * k < PackedFromWork)
        {
            var (br, bld) = Rows(b, k, n, brs, bcs, scratch);
            AttentionGemm.Multiply(m, n, k, alpha, a, ars, acs, (T*)br, bld, c, ldc);
        }
        else if (typeof(T) == typeof(float))
            CpuGemm.Gemm(m, n, k, float.CreateTruncating(alpha), (float*)a, ars, acs, (float*)b, brs, bcs, 0f, (float*)c, ldc);
        else
            CpuGemm.Gemm(m, n, k, double.CreateTruncating(alpha), (double*)a, ars, acs, (double*)b, brs, bcs, 0.0, (double*)c, ldc);
    }

    /// <summary>The matrix itself when its rows are contiguous, else a row-major copy in <paramref name="scratch"/>; with the row stride to use.</summary>
    private static (nint Rows, long Stride) Rows<T>(T* m, int rows, int cols, long rowStride, long colStride, T* scratch) where T : unmanaged
    {
        if (colStride == 1 || cols <= 1) return ((nint)m, rowStride);
        AttentionGemm.Pack(m, rows, cols, rowStride, colStride, scratch);
        return ((nint)scratch, cols);
    }
}
