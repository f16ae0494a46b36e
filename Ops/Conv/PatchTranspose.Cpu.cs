using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// The two data movements of a patch convolution (<see cref="ConvGeometry.IsPatchify"/>): one input row segment
/// of a channel holds <c>len</c> patches side by side, <c>kw</c> values each (a <c>len x kw</c> row-major block); the
/// column matrix wants it as <c>kw</c> rows of <c>len</c> (one per tap). <see cref="Gather"/> is that transpose,
/// <see cref="Scatter"/> its inverse (the input gradient; patches do not overlap, so it writes, never adds).
/// </summary>
/// <remarks>
/// With AVX-512 and 4-wide patches (the usual stride-4 stem) a block of one vector's count of patches moves through
/// two levels of two-source permutes, 8 per 4 vectors, and 2-wide patches through one level, 2 per 2 vectors; anything else (other widths, a partial patch at a k-block
/// edge, tails, machines without AVX-512) goes through the scalar loop. Both give the same values: a move, no arithmetic.
/// </remarks>
internal static unsafe class PatchTranspose
{
    /// <summary>dst[j·dstStride + q] = src[q·kw + kx0 + j] for taps j &lt; <paramref name="taps"/>, patches q &lt; <paramref name="len"/>.</summary>
    public static void Gather<T>(T* src, int kw, int kx0, int taps, int len, T* dst, long dstStride) where T : unmanaged
    {
        int q = 0;
        if (kw == 2 && kx0 == 0 && taps == 2 && Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float))
                for (; q <= len - 16; q += 16) Gather2((float*)src + 2 * q, (float*)dst + q, dstStride);
            else if (typeof(T) == typeof(double))
                for (; q <= len - 8; q += 8) Gather2((double*)src + 2 * q, (double*)dst + q, dstStride);
        }
        if (kw == 4 && kx0 == 0 && taps == 4 && Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float))
                for (; q <= len - 16; q += 16) Gather4((float*)src + 4 * q, (float*)dst + q, dstStride);
            else if (typeof(T) == typeof(double))
                for (; q <= len - 8; q += 8) Gather4((double*)src + 4 * q, (double*)dst + q, dstStride);
        }
        for (; q < len; q++)
            for (int j = 0; j < taps; j++) dst[j * dstStride + q] = src[(long)q * kw + kx0 + j];
    }

    /// <summary>dst[q·kw + j] = src[j·srcStride + q] for taps j &lt; <paramref name="kw"/>, patches q &lt; <paramref name="len"/>.</summary>
    public static void Scatter<T>(T* src, long srcStride, int kw, int len, T* dst) where T : unmanaged
    {
        int q = 0;
        if (kw == 2 && Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float))
                for (; q <= len - 16; q += 16) Scatter2((float*)src + q, srcStride, (float*)dst + 2 * q);
            else if (typeof(T) == typeof(double))
                for (; q <= len - 8; q += 8) Scatter2((double*)src + q, srcStride, (double*)dst + 2 * q);
        }
        if (kw == 4 && Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float))
                for (; q <= len - 16; q += 16) Scatter4((float*)src + q, srcStride, (float*)dst + 4 * q);
            else if (typeof(T) == typeof(double))
                for (; q <= len - 8; q += 8) Scatter4((double*)src + q, srcStride, (double*)dst + 4 * q);
        }
        for (; q < len; q++)
            for (int j = 0; j < kw; j++) dst[(long)q * kw + j] = src[j * srcStride + q];
    }

    // Index vectors, for C lanes (16 floats or 8 doubles) and h = C / 2. Level 1 of Gather4 takes taps (0, 1) or
    // (2, 3) of h patches from two source vectors (index 4i + tap over their 2C values): tap a in lanes [0, h), tap b in
    // [h, C). Level 2 joins the low (Lo) or high (Hi) halves of two such vectors. Scatter4 runs the network backwards;
    // Interleave puts taps 0-3 of patches [q0, q0 + C/4) side by side from a (tap 0, tap 1) and a (tap 2, tap 3) vector.
    private static readonly Vector512<int> PairF01 = Pair<int>(16, 0, 1), PairF23 = Pair<int>(16, 2, 3);
    private static readonly Vector512<int> LoF = Half<int>(16, 0), HiF = Half<int>(16, 8);
    private static readonly Vector512<int> InterF0 = Interleave<int>(16, 0), InterF1 = Interleave<int>(16, 4);
    private static readonly Vector512<long> PairD01 = Pair<long>(8, 0, 1), PairD23 = Pair<long>(8, 2, 3);
    private static readonly Vector512<long> LoD = Half<long>(8, 0), HiD = Half<long>(8, 4);
    private static readonly Vector512<long> InterD0 = Interleave<long>(8, 0), InterD1 = Interleave<long>(8, 2);

    // 2-wide patches, one level: tap t of patch i is lane 2i + t of two source vectors; back again, lane i of a
    // pair of patches' output takes tap i % 2 of patch q0 + i / 2 from the first (tap 0) or second (tap 1) row.
    private static readonly Vector512<int> TapF0 = Taps<int>(16, 0), TapF1 = Taps<int>(16, 1);
    private static readonly Vector512<int> ZipF0 = Zip<int>(16, 0), ZipF1 = Zip<int>(16, 8);
    private static readonly Vector512<long> TapD0 = Taps<long>(8, 0), TapD1 = Taps<long>(8, 1);
    private static readonly Vector512<long> ZipD0 = Zip<long>(8, 0), ZipD1 = Zip<long>(8, 4);

    private static Vector512<TI> Taps<TI>(int c, int tap) where TI : struct, System.Numerics.IBinaryInteger<TI>
    {
        var v = new TI[c];
        for (int i = 0; i < c; i++) v[i] = TI.CreateTruncating(2 * i + tap);
        return Vector512.Create(v);
    }

    private static Vector512<TI> Zip<TI>(int c, int q0) where TI : struct, System.Numerics.IBinaryInteger<TI>
    {
        var v = new TI[c];
        for (int i = 0; i < c; i++) v[i] = TI.CreateTruncating(i % 2 * c + q0 + i / 2);
        return Vector512.Create(v);
    }

    private static void Gather2(float* src, float* dst, long stride)
    {
        Vector512<float> v0 = Vector512.Load(src), v1 = Vector512.Load(src + 16);
        Vector512.Store(Avx512F.PermuteVar16x32x2(v0, TapF0, v1), dst);
        Vector512.Store(Avx512F.PermuteVar16x32x2(v0, TapF1, v1), dst + stride);
    }

    private static void Gather2(double* src, double* dst, long stride)
    {
        Vector512<double> v0 = Vector512.Load(src), v1 = Vector512.Load(src + 8);
        Vector512.Store(Avx512F.PermuteVar8x64x2(v0, TapD0, v1), dst);
        Vector512.Store(Avx512F.PermuteVar8x64x2(v0, TapD1, v1), dst + stride);
    }

    private static void Scatter2(float* src, long stride, float* dst)
    {
        Vector512<float> a0 = Vector512.Load(src), a1 = Vector512.Load(src + stride);
        Vector512.Store(Avx512F.PermuteVar16x32x2(a0, ZipF0, a1), dst);
        Vector512.Store(Avx512F.PermuteVar16x32x2(a0, ZipF1, a1), dst + 16);
    }

    private static void Scatter2(double* src, long stride, double* dst)
    {
        Vector512<double> a0 = Vector512.Load(src), a1 = Vector512.Load(src + stride);
        Vector512.Store(Avx512F.PermuteVar8x64x2(a0, ZipD0, a1), dst);
        Vector512.Store(Avx512F.PermuteVar8x64x2(a0, ZipD1, a1), dst + 8);
    }

    private static Vector512<TI> Pair<TI>(int c, int a, int b) where TI : struct, System.Numerics.IBinaryInteger<TI>
    {
        var v = new TI[c];
        for (int i = 0; i < c; i++) v[i] = TI.CreateTruncating(i < c / 2 ? 4 * i + a : 4 * (i - c / 2) + b);
        return Vector512.Create(v);
    }

    // Lanes [0, h) from the first vector's lanes [from, from + h), lanes [h, C) from the second's.
    private static Vector512<TI> Half<TI>(int c, int from) where TI : struct, System.Numerics.IBinaryInteger<TI>
    {
        var v = new TI[c];
        for (int i = 0; i < c; i++) v[i] = TI.CreateTruncating(i < c / 2 ? from + i : c + from + i - c / 2);
        return Vector512.Create(v);
    }

    // Lane i is tap i % 4 of patch q0 + i / 4: taps 0 and 1 from the first vector (lanes q and h + q), 2 and 3 from the second.
    private static Vector512<TI> Interleave<TI>(int c, int q0) where TI : struct, System.Numerics.IBinaryInteger<TI>
    {
        var v = new TI[c];
        for (int i = 0; i < c; i++)
        {
            int q = q0 + i / 4, tap = i % 4;
            v[i] = TI.CreateTruncating((tap >= 2 ? c : 0) + (tap % 2 == 1 ? c / 2 : 0) + q);
        }
        return Vector512.Create(v);
    }

    private static void Gather4(float* src, float* dst, long stride)
    {
        Vector512<float> v0 = Vector512.Load(src), v1 = Vector512.Load(src + 16), v2 = Vector512.Load(src + 32), v3 = Vector512.Load(src + 48);
        var u0 = Avx512F.PermuteVar16x32x2(v0, PairF01, v1);
        var u1 = Avx512F.PermuteVar16x32x2(v0, PairF23, v1);
        var u2 = Avx512F.PermuteVar16x32x2(v2, PairF01, v3);
        var u3 = Avx512F.PermuteVar16x32x2(v2, PairF23, v3);
        Vector512.Store(Avx512F.PermuteVar16x32x2(u0, LoF, u2), dst);
        Vector512.Store(Avx512F.PermuteVar16x32x2(u0, HiF, u2), dst + stride);
        Vector512.Store(Avx512F.PermuteVar16x32x2(u1, LoF, u3), dst + 2 * stride);
        Vector512.Store(Avx512F.PermuteVar16x32x2(u1, HiF, u3), dst + 3 * stride);
    }

    private static void Gather4(double* src, double* dst, long stride)
    {
        Vector512<double> v0 = Vector512.Load(src), v1 = Vector512.Load(src + 8), v2 = Vector512.Load(src + 16), v3 = Vector512.Load(src + 24);
        var u0 = Avx512F.PermuteVar8x64x2(v0, PairD01, v1);
        var u1 = Avx512F.PermuteVar8x64x2(v0, PairD23, v1);
        var u2 = Avx512F.PermuteVar8x64x2(v2, PairD01, v3);
        var u3 = Avx512F.PermuteVar8x64x2(v2, PairD23, v3);
        Vector512.Store(Avx512F.PermuteVar8x64x2(u0, LoD, u2), dst);
        Vector512.Store(Avx512F.PermuteVar8x64x2(u0, HiD, u2), dst + stride);
        Vector512.Store(Avx512F.PermuteVar8x64x2(u1, LoD, u3), dst + 2 * stride);
        Vector512.Store(Avx512F.PermuteVar8x64x2(u1, HiD, u3), dst + 3 * stride);
    }

    private static void Scatter4(float* src, long stride, float* dst)
    {
        Vector512<float> a0 = Vector512.Load(src), a1 = Vector512.Load(src + stride), a2 = Vector512.Load(src + 2 * stride), a3 = Vector512.Load(src + 3 * stride);
        var u0 = Avx512F.PermuteVar16x32x2(a0, LoF, a1); // taps 0, 1 of patches 0-7
        var u2 = Avx512F.PermuteVar16x32x2(a0, HiF, a1); // taps 0, 1 of patches 8-15
        var u1 = Avx512F.PermuteVar16x32x2(a2, LoF, a3);
        var u3 = Avx512F.PermuteVar16x32x2(a2, HiF, a3);
        Vector512.Store(Avx512F.PermuteVar16x32x2(u0, InterF0, u1), dst);
        Vector512.Store(Avx512F.PermuteVar16x32x2(u0, InterF1, u1), dst + 16);
        Vector512.Store(Avx512F.PermuteVar16x32x2(u2, InterF0, u3), dst + 32);
        Vector512.Store(Avx512F.PermuteVar16x32x2(u2, InterF1, u3), dst + 48);
    }

    private static void Scatter4(double* src, long stride, double* dst)
    {
        Vector512<double> a0 = Vector512.Load(src), a1 = Vector512.Load(src + stride), a2 = Vector512.Load(src + 2 * stride), a3 = Vector512.Load(src + 3 * stride);
        var u0 = Avx512F.PermuteVar8x64x2(a0, LoD, a1);
        var u2 = Avx512F.PermuteVar8x64x2(a0, HiD, a1);
        var u1 = Avx512F.PermuteVar8x64x2(a2, LoD, a3);
        var u3 = Avx512F.PermuteVar8x64x2(a2, HiD, a3);
        Vector512.Store(Avx512F.PermuteVar8x64x2(u0, InterD0, u1), dst);
        Vector512.Store(Avx512F.PermuteVar8x64x2(u0, InterD1, u1), dst + 8);
        Vector512.Store(Avx512F.PermuteVar8x64x2(u2, InterD0, u3), dst + 16);
        Vector512.Store(Avx512F.PermuteVar8x64x2(u2, InterD1, u3), dst + 24);
    }
}
