using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// The tap loops of <see cref="DepthwiseConvCpu"/>. For nine taps where <see cref="VectorWidth.Use512"/> holds, every
/// tap of a plane in one pass over the output (weights and tap pointers in registers), where one AXPY (or dot product)
/// per tap made nine passes; otherwise the AXPYs, which measured faster at 256 bits than a loop over the taps per vector.
/// The forward and the input gradient do the same fused multiply-adds in the same order per element either way, so they
/// give the same bits; only the nine-tap weight gradient's dot products sum in another (fixed) order.
/// </summary>
internal static unsafe class DepthwiseTaps
{
    /// <summary>dst[i] = init + Σ_k w[k]·src[i + off[k]], the taps added in order with one rounding each (fma).</summary>
    public static void Sum<T>(T* dst, T* src, long* off, T* w, int taps, T init, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (taps != 9 || !VectorWidth.Use512 || !Vector512<T>.IsSupported)
        {
            // One AXPY per tap: the same fused multiply-adds in the same order, faster at 256 bits than a tap loop per vector.
            new Span<T>(dst, n).Fill(init);
            for (int k = 0; k < taps; k++) ConvPoolKernels.Axpy(dst, src + off[k], w[k], n);
            return;
        }
        for (int i = Sum9(dst, src, off, w, init, n); i < n; i++)
        {
            T acc = init;
            for (int k = 0; k < taps; k++) acc = T.FusedMultiplyAdd(w[k], src[off[k] + i], acc);
            dst[i] = acc;
        }
    }

    /// <summary>
    /// dst[j] += Σ_k w[k]·src[j - off[k]] for j in [0, n), the taps in order with one rounding each: the adjoint of
    /// <see cref="Sum{T}"/>. <paramref name="src"/> must be readable (and zero where nothing was written) from
    /// src - max(off) to src + n.
    /// </summary>
    public static void Gather<T>(T* dst, T* src, long* off, T* w, int taps, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (taps != 9 || !VectorWidth.Use512 || !Vector512<T>.IsSupported)
        {
            for (int k = 0; k < taps; k++) ConvPoolKernels.Axpy(dst, src - off[k], w[k], n);
            return;
        }
        for (int i = Gather9(dst, src, off, w, n); i < n; i++)
        {
            T acc = dst[i];
            for (int k = 0; k < taps; k++) acc = T.FusedMultiplyAdd(w[k], src[i - off[k]], acc);
            dst[i] = acc;
        }
    }

    /// <summary>
    /// sums[k] += Σ_i a[i]·b[i + off[k]]. Nine taps on 512-bit vectors go in one pass over <paramref name="a"/> (nine
    /// accumulators, added lane by lane, then the scalar tail); otherwise one <see cref="ConvPoolKernels.Dot{T}"/> per
    /// tap. Either way a fixed order for a given n and machine width.
    /// </summary>
    public static void Dots<T>(T* a, T* b, long* off, int taps, T* sums, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (taps == 9 && VectorWidth.Use512 && Vector512<T>.IsSupported)
        {
            Dots9(a, b, off, sums, n);
            return;
        }
        for (int k = 0; k < taps; k++) sums[k] += ConvPoolKernels.Dot(a, b + off[k], n);
    }

    private static void Dots9<T>(T* a, T* b, long* off, T* sums, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* b0 = b + off[0], b1 = b + off[1], b2 = b + off[2], b3 = b + off[3], b4 = b + off[4];
        T* b5 = b + off[5], b6 = b + off[6], b7 = b + off[7], b8 = b + off[8];
        Vector512<T> s0 = Vector512<T>.Zero, s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0;
        int i = 0;
        for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
        {
            var av = Vector512.Load(a + i);
            s0 = Fma(av, Vector512.Load(b0 + i), s0);
            s1 = Fma(av, Vector512.Load(b1 + i), s1);
            s2 = Fma(av, Vector512.Load(b2 + i), s2);
            s3 = Fma(av, Vector512.Load(b3 + i), s3);
            s4 = Fma(av, Vector512.Load(b4 + i), s4);
            s5 = Fma(av, Vector512.Load(b5 + i), s5);
            s6 = Fma(av, Vector512.Load(b6 + i), s6);
            s7 = Fma(av, Vector512.Load(b7 + i), s7);
            s8 = Fma(av, Vector512.Load(b8 + i), s8);
        }
        sums[0] += Vector512.Sum(s0); sums[1] += Vector512.Sum(s1); sums[2] += Vector512.Sum(s2);
        sums[3] += Vector512.Sum(s3); sums[4] += Vector512.Sum(s4); sums[5] += Vector512.Sum(s5);
        sums[6] += Vector512.Sum(s6); sums[7] += Vector512.Sum(s7); sums[8] += Vector512.Sum(s8);
        for (; i < n; i++)
            for (int k = 0; k < 9; k++) sums[k] = T.FusedMultiplyAdd(a[i], b[off[k] + i], sums[k]);
    }

    /// <summary><see cref="Sum{T}"/> for nine taps on 512-bit vectors: weights and tap pointers held in registers.</summary>
    private static int Sum9<T>(T* dst, T* src, long* off, T* w, T init, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* p0 = src + off[0], p1 = src + off[1], p2 = src + off[2], p3 = src + off[3], p4 = src + off[4];
        T* p5 = src + off[5], p6 = src + off[6], p7 = src + off[7], p8 = src + off[8];
        var w0 = Vector512.Create(w[0]); var w1 = Vector512.Create(w[1]); var w2 = Vector512.Create(w[2]);
        var w3 = Vector512.Create(w[3]); var w4 = Vector512.Create(w[4]); var w5 = Vector512.Create(w[5]);
        var w6 = Vector512.Create(w[6]); var w7 = Vector512.Create(w[7]); var w8 = Vector512.Create(w[8]);
        var start = Vector512.Create(init);
        int i = 0;
        for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
        {
            var acc = Fma(w0, Vector512.Load(p0 + i), start);
            acc = Fma(w1, Vector512.Load(p1 + i), acc);
            acc = Fma(w2, Vector512.Load(p2 + i), acc);
            acc = Fma(w3, Vector512.Load(p3 + i), acc);
            acc = Fma(w4, Vector512.Load(p4 + i), acc);
            acc = Fma(w5, Vector512.Load(p5 + i), acc);
            acc = Fma(w6, Vector512.Load(p6 + i), acc);
            acc = Fma(w7, Vector512.Load(p7 + i), acc);
            acc = Fma(w8, Vector512.Load(p8 + i), acc);
            acc.Store(dst + i);
        }
        return i;
    }

    /// <summary><see cref="Gather{T}"/> for nine taps on 512-bit vectors: weights and tap pointers held in registers.</summary>
    private static int Gather9<T>(T* dst, T* src, long* off, T* w, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* p0 = src - off[0], p1 = src - off[1], p2 = src - off[2], p3 = src - off[3], p4 = src - off[4];
        T* p5 = src - off[5], p6 = src - off[6], p7 = src - off[7], p8 = src - off[8];
        var w0 = Vector512.Create(w[0]); var w1 = Vector512.Create(w[1]); var w2 = Vector512.Create(w[2]);
        var w3 = Vector512.Create(w[3]); var w4 = Vector512.Create(w[4]); var w5 = Vector512.Create(w[5]);
        var w6 = Vector512.Create(w[6]); var w7 = Vector512.Create(w[7]); var w8 = Vector512.Create(w[8]);
        int i = 0;
        for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
        {
            var acc = Fma(w0, Vector512.Load(p0 + i), Vector512.Load(dst + i));
            acc = Fma(w1, Vector512.Load(p1 + i), acc);
            acc = Fma(w2, Vector512.Load(p2 + i), acc);
            acc = Fma(w3, Vector512.Load(p3 + i), acc);
            acc = Fma(w4, Vector512.Load(p4 + i), acc);
            acc = Fma(w5, Vector512.Load(p5 + i), acc);
            acc = Fma(w6, Vector512.Load(p6 + i), acc);
            acc = Fma(w7, Vector512.Load(p7 + i), acc);
            acc = Fma(w8, Vector512.Load(p8 + i), acc);
            acc.Store(dst + i);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
