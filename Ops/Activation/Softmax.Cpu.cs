using System.Numerics;
using System.Numerics.Tensors;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Softmax on the CPU (the CUDA side is <c>Softmax.Cuda.cs</c>): kernels for softmax and log-softmax on contiguous data
/// viewed as (outer, n, inner), reducing over n. The name stays <c>SoftmaxKernels</c> because attention's CPU kernels
/// call <see cref="RowForward"/> on their score rows. When the axis is the last one (inner == 1) each row is a contiguous span; otherwise a block of up to
/// <see cref="Block"/> neighbouring columns is processed together, row by row, so every pass still reads
/// contiguous memory. Each row or block belongs to one thread and is reduced in a fixed order, so the
/// results do not depend on the thread count. Float rows along the last axis go to the fused kernels of
/// <see cref="SoftmaxRowF32"/> (their own exp, one read and one write per row); double rows and the blocks of
/// columns use <c>TensorPrimitives</c>.
/// </summary>
internal static unsafe class SoftmaxKernels
{
    private const int Block = 256;

    public static void Forward(Tensor x, Tensor y, long outer, int n, long inner, bool log)
    {
        if (x.DType == DType.F32) Forward<float>(CpuBackend.BasePointer(x), CpuBackend.BasePointer(y), outer, n, inner, log);
        else Forward<double>(CpuBackend.BasePointer(x), CpuBackend.BasePointer(y), outer, n, inner, log);
    }

    public static void Backward(Tensor g, Tensor y, Tensor gx, long outer, int n, long inner, bool log)
    {
        if (g.DType == DType.F32) Backward<float>(CpuBackend.BasePointer(g), CpuBackend.BasePointer(y), CpuBackend.BasePointer(gx), outer, n, inner, log);
        else Backward<double>(CpuBackend.BasePointer(g), CpuBackend.BasePointer(y), CpuBackend.BasePointer(gx), outer, n, inner, log);
    }

    private static void Forward<T>(nint xBase, nint yBase, long outer, int n, long inner, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 1)
        {
            if (typeof(T) == typeof(float) && SoftmaxRowF32.Available)
            {
                CpuParallel.For(outer, 8.0 * n, (start, end) =>
                {
                    for (long r = start; r < end; r++) SoftmaxRowF32.Forward((float*)xBase + r * n, (float*)yBase + r * n, n, log);
                });
                return;
            }
            CpuParallel.For(outer, 8.0 * n, (start, end) =>
            {
                var scratch = log ? new T[n] : null;
                for (long r = start; r < end; r++)
                {
                    var row = new ReadOnlySpan<T>((T*)xBase + r * n, n);
                    var o = new Span<T>((T*)yBase + r * n, n);
                    RowForward(row, o, scratch, log);
                }
            });
            return;
        }
        long blocks = (inner + Block - 1) / Block;
        CpuParallel.For(outer * blocks, 8.0 * n * Math.Min(inner, Block), (start, end) =>
        {
            var max = new T[Block];
            var sum = new T[Block];
            var tmp = new T[Block];
            for (long item = start; item < end; item++)
            {
                long o = item / blocks, j0 = item % blocks * Block;
                int len = (int)Math.Min(Block, inner - j0);
                T* xs = (T*)xBase + o * n * inner + j0;
                T* ys = (T*)yBase + o * n * inner + j0;
                ColumnsForward(xs, ys, n, inner, max.AsSpan(0, len), sum.AsSpan(0, len), tmp.AsSpan(0, len), log);
            }
        });
    }

    /// <summary>One contiguous row: y = softmax(x) or log_softmax(x). <paramref name="scratch"/> (length n) is needed for log.</summary>
    public static void RowForward<T>(ReadOnlySpan<T> x, Span<T> y, T[]? scratch, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && SoftmaxRowF32.Available)
        {
            fixed (T* xp = x, yp = y) SoftmaxRowF32.Forward((float*)xp, (float*)yp, x.Length, log);
            return;
        }
        T max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        if (log)
        {
            var e = scratch.AsSpan(0, x.Length);
            TensorPrimitives.Exp(y, e);
            TensorPrimitives.Subtract(y, T.Log(TensorPrimitives.Sum<T>(e)), y);
        }
        else
        {
            TensorPrimitives.Exp(y, y);
            TensorPrimitives.Divide(y, TensorPrimitives.Sum<T>(y), y);
        }
    }

    private static void ColumnsForward<T>(T* x, T* y, int n, long stride, Span<T> max, Span<T> sum, Span<T> tmp, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int len = max.Length;
        new ReadOnlySpan<T>(x, len).CopyTo(max);
        for (int d = 1; d < n; d++) TensorPrimitives.Max(max, new ReadOnlySpan<T>(x + d * stride, len), max);
        sum.Clear();
        for (int d = 0; d < n; d++)
        {
            var o = new Span<T>(y + d * stride, len);
            TensorPrimitives.Subtract(new ReadOnlySpan<T>(x + d * stride, len), max, o);
            if (log)
            {
                TensorPrimitives.Exp(o, tmp);
                TensorPrimitives.Add(sum, tmp, sum);
            }
            else
            {
                TensorPrimitives.Exp(o, o);
                TensorPrimitives.Add(sum, o, sum);
            }
        }
        if (log) TensorPrimitives.Log(sum, sum);
        for (int d = 0; d < n; d++)
        {
            var o = new Span<T>(y + d * stride, len);
            if (log) TensorPrimitives.Subtract(o, sum, o);
            else TensorPrimitives.Divide(o, sum, o);
        }
    }

    private static void Backward<T>(nint gBase, nint yBase, nint gxBase, long outer, int n, long inner, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 1)
        {
            if (typeof(T) == typeof(float) && SoftmaxRowF32.Available)
            {
                bool stream = !log && StreamingStores.Worth(outer * n);
                CpuParallel.For(outer, 6.0 * n, (start, end) =>
                {
                    for (long r = start; r < end; r++)
                        SoftmaxRowF32.Backward((float*)gBase + r * n, (float*)yBase + r * n, (float*)gxBase + r * n, n, log, stream, r + 1 < end);
                    if (stream) System.Runtime.Intrinsics.X86.Sse.StoreFence();
                });
                return;
            }
            CpuParallel.For(outer, 6.0 * n, (start, end) =>
            {
                for (long r = start; r < end; r++)
                {
                    var g = new ReadOnlySpan<T>((T*)gBase + r * n, n);
                    var y = new ReadOnlySpan<T>((T*)yBase + r * n, n);
                    var gx = new Span<T>((T*)gxBase + r * n, n);
                    if (log)
                    {
                        // g - exp(y) * sum(g)
                        T s = TensorPrimitives.Sum(g);
                        TensorPrimitives.Exp(y, gx);
                        TensorPrimitives.Multiply(gx, s, gx);
                        TensorPrimitives.Subtract(g, gx, gx);
                    }
                    else
                    {
                        // y * (g - sum(g * y))
                        T dot = TensorPrimitives.Dot(g, y);
                        TensorPrimitives.Subtract(g, dot, gx);
                        TensorPrimitives.Multiply(gx, y, gx);
                    }
                }
            });
            return;
        }
        long blocks = (inner + Block - 1) / Block;
        CpuParallel.For(outer * blocks, 6.0 * n * Math.Min(inner, Block), (start, end) =>
        {
            var acc = new T[Block];
            for (long item = start; item < end; item++)
            {
                long o = item / blocks, j0 = item % blocks * Block;
                int len = (int)Math.Min(Block, inner - j0);
                long at = o * n * inner + j0;
                ColumnsBackward((T*)gBase + at, (T*)yBase + at, (T*)gxBase + at, n, inner, acc.AsSpan(0, len), log);
            }
        });
    }

    private static void ColumnsBackward<T>(T* g, T* y, T* gx, int n, long stride, Span<T> acc, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int len = acc.Length;
        acc.Clear();
        for (int d = 0; d < n; d++)
        {
            var gd = new ReadOnlySpan<T>(g + d * stride, len);
            if (log) TensorPrimitives.Add(acc, gd, acc);
            else TensorPrimitives.FusedMultiplyAdd(gd, new ReadOnlySpan<T>(y + d * stride, len), acc, acc);
        }
        for (int d = 0; d < n; d++)
        {
            var gd = new ReadOnlySpan<T>(g + d * stride, len);
            var yd = new ReadOnlySpan<T>(y + d * stride, len);
            var o = new Span<T>(gx + d * stride, len);
            if (log)
            {
                TensorPrimitives.Exp(yd, o);
                TensorPrimitives.Multiply(o, acc, o);
                TensorPrimitives.Subtract(gd, o, o);
            }
            else
            {
                TensorPrimitives.Subtract(gd, acc, o);
                TensorPrimitives.Multiply(o, yd, o);
            }
        }
    }
}
