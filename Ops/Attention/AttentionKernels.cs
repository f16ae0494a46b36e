using System.Numerics;
using System.Numerics.Tensors;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Shapes and per-matrix addressing of one attention call: <c>Count</c> independent (L, E) x (S, E) x (S, Ev)
/// problems, each operand read at its own offsets and row/column strides (so permuted head views need no copy).
/// </summary>
internal sealed class AttentionGeometry
{
    public required int L, S, E, Ev;
    public required long Count;
    public required long[] QOffsets, KOffsets, VOffsets;
    public required long QRow, QCol, KRow, KCol, VRow, VCol;
    public required int[] OutputShape, ProbabilityShape;

    public static AttentionGeometry Of(Tensor q, Tensor k, Tensor v)
    {
        var batch = q.Layout.Shape[..^2];
        long count = Layout.Count(batch);
        int l = q.Layout.Shape[^2], e = q.Layout.Shape[^1], s = k.Layout.Shape[^2], ev = v.Layout.Shape[^1];
        return new AttentionGeometry
        {
            L = l, S = s, E = e, Ev = ev, Count = count,
            QOffsets = Offsets(q, count), KOffsets = Offsets(k, count), VOffsets = Offsets(v, count),
            QRow = q.Layout.Strides[^2], QCol = q.Layout.Strides[^1],
            KRow = k.Layout.Strides[^2], KCol = k.Layout.Strides[^1],
            VRow = v.Layout.Strides[^2], VCol = v.Layout.Strides[^1],
            OutputShape = [.. batch, l, ev], ProbabilityShape = [.. batch, l, s],
        };
    }

    /// <summary>Element offset of each batch matrix from the tensor's first element, batch index in row-major order.</summary>
    private static long[] Offsets(Tensor t, long count)
    {
        var shape = t.Layout.Shape; var strides = t.Layout.Strides;
        int batchRank = shape.Length - 2;
        var offsets = new long[count];
        for (long i = 0; i < count; i++)
        {
            long rest = i, at = 0;
            for (int d = batchRank - 1; d >= 0; d--)
            {
                at += rest % shape[d] * strides[d];
                rest /= shape[d];
            }
            offsets[i] = at;
        }
        return offsets;
    }
}

/// <summary>
/// CPU kernels of the fused attention. Each batch matrix is one work item handled by one thread with
/// small GEMMs (serial inside a parallel region), so results do not depend on the thread count.
/// </summary>
internal static unsafe class AttentionKernels
{
    public static void Forward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, double scale, Tensor p, Tensor o)
    {
        if (q.DType == DType.F32)
            Forward<float>(g, CpuBackend.BasePointer(q), CpuBackend.BasePointer(k), CpuBackend.BasePointer(v), (float)scale, CpuBackend.BasePointer(p), CpuBackend.BasePointer(o));
        else
            Forward<double>(g, CpuBackend.BasePointer(q), CpuBackend.BasePointer(k), CpuBackend.BasePointer(v), scale, CpuBackend.BasePointer(p), CpuBackend.BasePointer(o));
    }

    public static void Backward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, Tensor p, Tensor go, double scale, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        nint Ptr(Tensor? t) => t is null ? 0 : CpuBackend.BasePointer(t);
        if (q.DType == DType.F32)
            Backward<float>(g, Ptr(q), Ptr(k), Ptr(v), Ptr(p), Ptr(go), (float)scale, Ptr(dq), Ptr(dk), Ptr(dv));
        else
            Backward<double>(g, Ptr(q), Ptr(k), Ptr(v), Ptr(p), Ptr(go), scale, Ptr(dq), Ptr(dk), Ptr(dv));
    }

    private static void Forward<T>(AttentionGeometry g, nint qb, nint kb, nint vb, T scale, nint pb, nint ob) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int l = g.L, s = g.S, e = g.E, ev = g.Ev;
        double cost = 2.0 * l * s * (e + ev) + 8.0 * l * s;
        CpuParallel.For(g.Count, cost, (start, end) =>
        {
            var kT = new T[(long)e * s];
            var vPack = new T[g.VCol == 1 ? 0 : (long)s * ev];
            fixed (T* kt = kT, vp = vPack)
                for (long i = start; i < end; i++)
                {
                    T* q = (T*)qb + g.QOffsets[i], k = (T*)kb + g.KOffsets[i], v = (T*)vb + g.VOffsets[i];
                    T* p = (T*)pb + i * l * s, o = (T*)ob + i * l * ev;
                    // logits = scale * q kᵀ, written straight into the probability rows, then softmax in place.
                    AttentionGemm.Pack(k, e, s, g.KCol, g.KRow, kt);
                    AttentionGemm.Multiply(l, s, e, scale, q, g.QRow, g.QCol, kt, s, p, s);
                    if (s > 0)
                        for (int r = 0; r < l; r++)
                        {
                            var row = new Span<T>(p + (long)r * s, s);
                            SoftmaxKernels.RowForward<T>(row, row, null, log: false);
                        }
                    var (vr, vld) = Rows(v, s, ev, g.VRow, g.VCol, vp);
                    AttentionGemm.Multiply(l, ev, s, T.One, p, s, 1, (T*)vr, vld, o, ev);
                }
        });
    }

    private static void Backward<T>(AttentionGeometry g, nint qb, nint kb, nint vb, nint pb, nint gob, T scale, nint dqb, nint dkb, nint dvb) where T : unmanaged, IFloatingPointIeee754<T>
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
                    T* q = (T*)qb + g.QOffsets[i], k = (T*)kb + g.KOffsets[i], v = (T*)vb + g.VOffsets[i];
                    T* p = (T*)pb + i * l * s, go = (T*)gob + i * l * ev;
                    if (dvb != 0) AttentionGemm.Multiply(s, ev, l, T.One, p, 1, s, go, ev, (T*)dvb + i * s * ev, ev); // dv = pᵀ go
                    if (dqb == 0 && dkb == 0) continue;
                    AttentionGemm.Pack(v, ev, s, g.VCol, g.VRow, vt);
                    AttentionGemm.Multiply(l, s, ev, T.One, go, ev, 1, vt, s, ds, s);                                 // dp = go vᵀ
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
                        var (kr, kld) = Rows(k, s, e, g.KRow, g.KCol, pk);
                        AttentionGemm.Multiply(l, e, s, scale, ds, s, 1, (T*)kr, kld, (T*)dqb + i * l * e, e);           // dq = scale ds k
                    }
                    if (dkb != 0)
                    {
                        var (qr, qld) = Rows(q, l, e, g.QRow, g.QCol, pk);
                        AttentionGemm.Multiply(s, e, l, scale, ds, 1, s, (T*)qr, qld, (T*)dkb + i * s * e, e);           // dk = scale dsᵀ q
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
