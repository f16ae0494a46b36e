using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// The row loops of <see cref="DepthwiseStride1Cpu"/>. A <see cref="Plane{T}"/> is a padded source plane, a row stride
/// and the taps' offsets within it. Columns go in 512-bit vectors where <see cref="VectorWidth.Use512"/> holds, then
/// 256-bit ones, then one by one; each element gets the same fused multiply-adds in the same order whichever of the
/// three computes it, so the correlation gives the same bits at both widths. Nine taps (3x3) keep their weights (or
/// their sums) in registers; other kernels loop over the taps.
/// </summary>
internal static unsafe class DepthwiseRows
{
    /// <summary>dst[i] = src[i] for i &lt; n, in vectors: a plane row is too short for a memmove call to pay.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy<T>(T* src, T* dst, int n) where T : unmanaged
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count) Vector512.Store(Vector512.Load(src + i), dst + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary>Per-tap partial sums of a weight gradient (the last slot is the bias's), one set per width plus scalars.</summary>
    public sealed class TapSums<T>(int taps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        public readonly Vector512<T>[] Wide = new Vector512<T>[taps + 1];
        public readonly Vector256<T>[] Narrow = new Vector256<T>[taps + 1];
        public readonly T[] Scalar = new T[taps + 1];

        public void Clear()
        {
            Array.Clear(Wide);
            Array.Clear(Narrow);
            Array.Clear(Scalar);
        }

        /// <summary>Sum k: the 512-bit lanes, then the 256-bit lanes, then the scalar columns.</summary>
        public T Total(int k) => Vector512.Sum(Wide[k]) + Vector256.Sum(Narrow[k]) + Scalar[k];
    }

    /// <summary>A padded plane with row stride <paramref name="stride"/>, tap offsets and (for a correlation) the weights.</summary>
    public readonly ref struct Plane<T>(T* src, int stride, long* off, T* w, int taps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static bool Wide => VectorWidth.Use512 && Vector512<T>.IsSupported;

        /// <summary>
        /// dst[r·dstStride + c] = (accumulate ? dst[…] : init) + Σ_k w[k]·src[r·stride + c + off[k]] for r &lt; rows and
        /// c &lt; cols, the taps in order, one fused multiply-add each.
        /// </summary>
        public void Correlate(T* dst, int dstStride, int rows, int cols, T init, bool accumulate)
        {
            int c = 0;
            if (Wide) c = taps == 9 ? Correlate9Wide(dst, dstStride, rows, c, cols, init, accumulate) : CorrelateWide(dst, dstStride, rows, c, cols, init, accumulate);
            if (Vector256.IsHardwareAccelerated)
                c = taps == 9 ? Correlate9Narrow(dst, dstStride, rows, c, cols, init, accumulate) : CorrelateNarrow(dst, dstStride, rows, c, cols, init, accumulate);
            for (int r = 0; r < rows; r++)
            {
                T* s = src + (long)r * stride;
                T* d = dst + (long)r * dstStride;
                for (int j = c; j < cols; j++)
                {
                    T acc = accumulate ? d[j] : init;
                    for (int k = 0; k < taps; k++) acc = T.FusedMultiplyAdd(w[k], s[j + off[k]], acc);
                    d[j] = acc;
                }
            }
        }

        /// <summary>
        /// sums[k] += Σ gy[r·gyStride + c]·src[r·stride + c + off[k]] over r &lt; rows, c &lt; cols, and the bias slot
        /// += Σ gy: each column into the partial sums of the width that covers it, rows in order.
        /// </summary>
        public void Dots(T* gy, int gyStride, int rows, int cols, TapSums<T> sums)
        {
            int c = 0;
            if (Wide) c = taps == 9 ? Dots9Wide(gy, gyStride, rows, c, cols, sums) : DotsWide(gy, gyStride, rows, c, cols, sums);
            if (Vector256.IsHardwareAccelerated)
                c = taps == 9 ? Dots9Narrow(gy, gyStride, rows, c, cols, sums) : DotsNarrow(gy, gyStride, rows, c, cols, sums);
            if (c == cols) return;
            fixed (T* acc = sums.Scalar)
                for (int r = 0; r < rows; r++)
                {
                    T* s = src + (long)r * stride;
                    T* gr = gy + (long)r * gyStride;
                    for (int j = c; j < cols; j++)
                    {
                        T gv = gr[j];
                        acc[taps] += gv;
                        for (int k = 0; k < taps; k++) acc[k] = T.FusedMultiplyAdd(gv, s[j + off[k]], acc[k]);
                    }
                }
        }

        private int Correlate9Wide(T* dst, int dstStride, int rows, int c0, int cols, T init, bool accumulate)
        {
            int lanes = Vector512<T>.Count, c1 = c0 + (cols - c0) / lanes * lanes;
            if (c1 == c0) return c0;
            var w0 = Vector512.Create(w[0]); var w1 = Vector512.Create(w[1]); var w2 = Vector512.Create(w[2]);
            var w3 = Vector512.Create(w[3]); var w4 = Vector512.Create(w[4]); var w5 = Vector512.Create(w[5]);
            var w6 = Vector512.Create(w[6]); var w7 = Vector512.Create(w[7]); var w8 = Vector512.Create(w[8]);
            var start = Vector512.Create(init);
            long o0 = off[0], o1 = off[1], o2 = off[2], o3 = off[3], o4 = off[4], o5 = off[5], o6 = off[6], o7 = off[7], o8 = off[8];
            for (int r = 0; r < rows; r++)
            {
                T* s = src + (long)r * stride;
                T* d = dst + (long)r * dstStride;
                for (int j = c0; j < c1; j += lanes)
                {
                    T* b = s + j;
                    var acc = accumulate ? Vector512.Load(d + j) : start;
                    acc = Fma(w0, Vector512.Load(b + o0), acc);
                    acc = Fma(w1, Vector512.Load(b + o1), acc);
                    acc = Fma(w2, Vector512.Load(b + o2), acc);
                    acc = Fma(w3, Vector512.Load(b + o3), acc);
                    acc = Fma(w4, Vector512.Load(b + o4), acc);
                    acc = Fma(w5, Vector512.Load(b + o5), acc);
                    acc = Fma(w6, Vector512.Load(b + o6), acc);
                    acc = Fma(w7, Vector512.Load(b + o7), acc);
                    acc = Fma(w8, Vector512.Load(b + o8), acc);
                    acc.Store(d + j);
                }
            }
            return c1;
        }

        private int Correlate9Narrow(T* dst, int dstStride, int rows, int c0, int cols, T init, bool accumulate)
        {
            int lanes = Vector256<T>.Count, c1 = c0 + (cols - c0) / lanes * lanes;
            if (c1 == c0) return c0;
            var w0 = Vector256.Create(w[0]); var w1 = Vector256.Create(w[1]); var w2 = Vector256.Create(w[2]);
            var w3 = Vector256.Create(w[3]); var w4 = Vector256.Create(w[4]); var w5 = Vector256.Create(w[5]);
            var w6 = Vector256.Create(w[6]); var w7 = Vector256.Create(w[7]); var w8 = Vector256.Create(w[8]);
            var start = Vector256.Create(init);
            long o0 = off[0], o1 = off[1], o2 = off[2], o3 = off[3], o4 = off[4], o5 = off[5], o6 = off[6], o7 = off[7], o8 = off[8];
            for (int r = 0; r < rows; r++)
            {
                T* s = src + (long)r * stride;
                T* d = dst + (long)r * dstStride;
                for (int j = c0; j < c1; j += lanes)
                {
                    T* b = s + j;
                    var acc = accumulate ? Vector256.Load(d + j) : start;
                    acc = Fma(w0, Vector256.Load(b + o0), acc);
                    acc = Fma(w1, Vector256.Load(b + o1), acc);
                    acc = Fma(w2, Vector256.Load(b + o2), acc);
                    acc = Fma(w3, Vector256.Load(b + o3), acc);
                    acc = Fma(w4, Vector256.Load(b + o4), acc);
                    acc = Fma(w5, Vector256.Load(b + o5), acc);
                    acc = Fma(w6, Vector256.Load(b + o6), acc);
                    acc = Fma(w7, Vector256.Load(b + o7), acc);
                    acc = Fma(w8, Vector256.Load(b + o8), acc);
                    acc.Store(d + j);
                }
            }
            return c1;
        }

        private int CorrelateWide(T* dst, int dstStride, int rows, int c0, int cols, T init, bool accumulate)
        {
            int lanes = Vector512<T>.Count, c1 = c0 + (cols - c0) / lanes * lanes;
            for (int r = 0; r < rows && c1 > c0; r++)
            {
                T* s = src + (long)r * stride;
                T* d = dst + (long)r * dstStride;
                for (int j = c0; j < c1; j += lanes)
                {
                    var acc = accumulate ? Vector512.Load(d + j) : Vector512.Create(init);
                    for (int k = 0; k < taps; k++) acc = Fma(Vector512.Create(w[k]), Vector512.Load(s + j + off[k]), acc);
                    acc.Store(d + j);
                }
            }
            return c1;
        }

        private int CorrelateNarrow(T* dst, int dstStride, int rows, int c0, int cols, T init, bool accumulate)
        {
            int lanes = Vector256<T>.Count, c1 = c0 + (cols - c0) / lanes * lanes;
            for (int r = 0; r < rows && c1 > c0; r++)
            {
                T* s = src + (long)r * stride;
                T* d = dst + (long)r * dstStride;
                for (int j = c0; j < c1; j += lanes)
                {
                    var acc = accumulate ? Vector256.Load(d + j) : Vector256.Create(init);
                    for (int k = 0; k < taps; k++) acc = Fma(Vector256.Create(w[k]), Vector256.Load(s + j + off[k]), acc);
                    acc.Store(d + j);
                }
            }
            return c1;
        }

        private int Dots9Wide(T* gy, int gyStride, int rows, int c0, int cols, TapSums<T> sums)
        {
            int lanes = Vector512<T>.Count, c1 = c0 + (cols - c0) / lanes * lanes;
            if (c1 == c0) return c0;
            var a = sums.Wide;
            Vector512<T> s0 = a[0], s1 = a[1], s2 = a[2], s3 = a[3], s4 = a[4], s5 = a[5], s6 = a[6], s7 = a[7], s8 = a[8], sb = a[9];
            long o0 = off[0], o1 = off[1], o2 = off[2], o3 = off[3], o4 = off[4], o5 = off[5], o6 = off[6], o7 = off[7], o8 = off[8];
            for (int r = 0; r < rows; r++)
            {
                T* s = src + (long)r * stride;
                T* gr = gy + (long)r * gyStride;
                for (int j = c0; j < c1; j += lanes)
                {
                    T* b = s + j;
                    var gv = Vector512.Load(gr + j);
                    sb += gv;
                    s0 = Fma(gv, Vector512.Load(b + o0), s0);
                    s1 = Fma(gv, Vector512.Load(b + o1), s1);
                    s2 = Fma(gv, Vector512.Load(b + o2), s2);
                    s3 = Fma(gv, Vector512.Load(b + o3), s3);
                    s4 = Fma(gv, Vector512.Load(b + o4), s4);
                    s5 = Fma(gv, Vector512.Load(b + o5), s5);
                    s6 = Fma(gv, Vector512.Load(b + o6), s6);
                    s7 = Fma(gv, Vector512.Load(b + o7), s7);
                    s8 = Fma(gv, Vector512.Load(b + o8), s8);
                }
            }
            a[0] = s0; a[1] = s1; a[2] = s2; a[3] = s3; a[4] = s4; a[5] = s5; a[6] = s6; a[7] = s7; a[8] = s8; a[9] = sb;
            return c1;
        }

        private int Dots9Narrow(T* gy, int gyStride, int rows, int c0, int cols, TapSums<T> sums)
        {
            int lanes = Vector256<T>.Count, c1 = c0 + (cols - c0) / lanes * lanes;
            if (c1 == c0) return c0;
            var a = sums.Narrow;
            Vector256<T> s0 = a[0], s1 = a[1], s2 = a[2], s3 = a[3], s4 = a[4], s5 = a[5], s6 = a[6], s7 = a[7], s8 = a[8], sb = a[9];
            long o0 = off[0], o1 = off[1], o2 = off[2], o3 = off[3], o4 = off[4], o5 = off[5], o6 = off[6], o7 = off[7], o8 = off[8];
            for (int r = 0; r < rows; r++)
            {
                T* s = src + (long)r * stride;
                T* gr = gy + (long)r * gyStride;
                for (int j = c0; j < c1; j += lanes)
                {
                    T* b = s + j;
                    var gv = Vector256.Load(gr + j);
                    sb += gv;
                    s0 = Fma(gv, Vector256.Load(b + o0), s0);
                    s1 = Fma(gv, Vector256.Load(b + o1), s1);
                    s2 = Fma(gv, Vector256.Load(b + o2), s2);
                    s3 = Fma(gv, Vector256.Load(b + o3), s3);
                    s4 = Fma(gv, Vector256.Load(b + o4), s4);
                    s5 = Fma(gv, Vector256.Load(b + o5), s5);
                    s6 = Fma(gv, Vector256.Load(b + o6), s6);
                    s7 = Fma(gv, Vector256.Load(b + o7), s7);
                    s8 = Fma(gv, Vector256.Load(b + o8), s8);
                }
            }
            a[0] = s0; a[1] = s1; a[2] = s2; a[3] = s3; a[4] = s4; a[5] = s5; a[6] = s6; a[7] = s7; a[8] = s8; a[9] = sb;
            return c1;
        }

        private int DotsWide(T* gy, int gyStride, int rows, int c0, int cols, TapSums<T> sums)
        {
            int lanes = Vector512<T>.Count, c1 = c0 + (cols - c0) / lanes * lanes;
            var a = sums.Wide;
            for (int r = 0; r < rows && c1 > c0; r++)
            {
                T* s = src + (long)r * stride;
                T* gr = gy + (long)r * gyStride;
                for (int j = c0; j < c1; j += lanes)
                {
                    var gv = Vector512.Load(gr + j);
                    a[taps] += gv;
                    for (int k = 0; k < taps; k++) a[k] = Fma(gv, Vector512.Load(s + j + off[k]), a[k]);
                }
            }
            return c1;
        }

        private int DotsNarrow(T* gy, int gyStride, int rows, int c0, int cols, TapSums<T> sums)
        {
            int lanes = Vector256<T>.Count, c1 = c0 + (cols - c0) / lanes * lanes;
            var a = sums.Narrow;
            for (int r = 0; r < rows && c1 > c0; r++)
            {
                T* s = src + (long)r * stride;
                T* gr = gy + (long)r * gyStride;
                for (int j = c0; j < c1; j += lanes)
                {
                    var gv = Vector256.Load(gr + j);
                    a[taps] += gv;
                    for (int k = 0; k < taps; k++) a[k] = Fma(gv, Vector256.Load(s + j + off[k]), a[k]);
                }
            }
            return c1;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
