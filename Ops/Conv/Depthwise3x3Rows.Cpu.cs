using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The depthwise 3x3 convolution with stride 1, dilation 1 and padding 1 on every side (the output as large as the
/// input) for planes at most one 512-bit vector wide (16 floats or 8 doubles): a whole row in one register. Each input
/// row is loaded once (masked beyond the plane's width) and turned into its three taps by two lane shifts that bring in
/// the padding zeros, and a window of three such rows stays in registers while the output walks down the plane, so an
/// output row costs one load, two shifts, nine fused multiply-adds and one store, with no padded copy of the plane.
/// Where <see cref="Handles"/> does not hold, conv2d uses <see cref="DepthwiseStride1Cpu"/>.
/// </summary>
/// <remarks>
/// Every element gets the operations <see cref="DepthwiseStride1Cpu"/> gives it, in its order, so the forward and the
/// input gradient give its bits: the forward starts from the bias and adds the taps in (ky, kx) order, the padding
/// zeros included; the input gradient starts from zero and adds, per output channel of the group in order, the flipped
/// taps. The weight gradient keeps one vector of partial sums per tap (and one for the bias) across all rows of all
/// images of a channel, one thread per channel, summed across the plane's lanes at the end: a fixed order for a given
/// shape, whatever the thread count (the same order as the row kernel's when the plane is exactly a vector wide).
/// </remarks>
internal static unsafe class Depthwise3x3Rows
{
    /// <summary>Whether this kernel handles the geometry (and the machine runs 512-bit vectors).</summary>
    public static bool Handles<T>(ConvGeometry g) where T : unmanaged =>
        g.IsDepthwise && g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1
        && g.PadTop == 1 && g.PadBottom == 1 && g.PadLeft == 1 && g.PadRight == 1
        && g.W <= Vector512<T>.Count && VectorWidth.Use512 && Avx512F.IsSupported
        && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    public static void Forward<T>(ConvGeometry g, T* x, T* w, T* bias, T* y) where T : unmanaged, IFloatingPointIeee754<T> =>
        CorrelatePlanes(g, x, w, bias, y, inputGradient: false);

    public static void Backward<T>(ConvGeometry g, T* x, T* w, T* gy, T* gx, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (gx != null) InputGradient(g, w, gy, gx);
        if (gw != null) WeightGradient(g, x, gy, gw, gb);
        else if (gb != null) DepthwiseStride1Cpu.Backward(g, null, null, gy, null, null, gb);
    }

    private static void InputGradient<T>(ConvGeometry g, T* w, T* gy, T* gx) where T : unmanaged, IFloatingPointIeee754<T> =>
        CorrelatePlanes(g, gx, w, null, gy, inputGradient: true);

    /// <summary>
    /// Each input plane (n, ci) with its output planes (n, co) for the channel's multiplier: the forward correlates the
    /// input plane into each output plane, from the bias; the input gradient correlates each output gradient plane,
    /// flipped, into the input plane, the first from zero and the others accumulated in channel order.
    /// </summary>
    private static void CorrelatePlanes<T>(ConvGeometry g, T* inputPlanes, T* w, T* bias, T* outputPlanes, bool inputGradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint ins = (nint)inputPlanes, ws = (nint)w, bs = (nint)bias, outs = (nint)outputPlanes;
        int multiplier = g.Cout / g.Cin, plane = g.InPlane;
        CpuParallel.For((long)g.N * g.Cin, 10.0 * multiplier * plane, (start, end) =>
        {
            var mask = Lanes<T>(g.W);
            for (long p = start; p < end; p++)
            {
                long n = p / g.Cin;
                int ci = (int)(p % g.Cin);
                for (int m = 0; m < multiplier; m++)
                {
                    int co = ci * multiplier + m;
                    T* input = (T*)ins + p * plane, output = (T*)outs + (n * g.Cout + co) * plane, taps = (T*)ws + co * 9L;
                    if (inputGradient)
                        Correlate(output, input, taps, g.H, g.W, mask, Vector512<T>.Zero, accumulate: m > 0, flip: true);
                    else
                        Correlate(input, output, taps, g.H, g.W, mask, Vector512.Create(bs == 0 ? T.Zero : ((T*)bs)[co]),
                            accumulate: false, flip: false);
                }
            }
        });
    }

    private static void WeightGradient<T>(ConvGeometry g, T* x, T* gy, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint xs = (nint)x, gys = (nint)gy, gws = (nint)gw, gbs = (nint)gb;
        int multiplier = g.Cout / g.Cin, plane = g.InPlane;
        CpuParallel.For(g.Cout, 11.0 * g.N * plane, (start, end) =>
        {
            var mask = Lanes<T>(g.W);
            var sums = stackalloc T[10];
            for (long co = start; co < end; co++)
            {
                long ci = co / multiplier;
                Dots((T*)xs + ci * plane, (T*)gys + co * plane, (long)g.Cin * plane, (long)g.Cout * plane, g.N, g.H, g.W, mask, sums);
                for (int k = 0; k < 9; k++) ((T*)gws)[co * 9 + k] = sums[k];
                if (gbs != 0) ((T*)gbs)[co] = sums[9];
            }
        });
    }

    /// <summary>All ones in the first <paramref name="width"/> lanes, zero beyond.</summary>
    private static Vector512<T> Lanes<T>(int width) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector512.LessThan(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(width)));

    /// <summary>
    /// One plane (h rows, w ≤ one vector wide, row stride w): dst = (accumulate ? dst : init) + the nine taps over src
    /// padded by one zero on every side, in tap order. Without <paramref name="flip"/> tap (ky, kx) reads
    /// src[r + ky − 1, c + kx − 1] (the forward); with it, src[r + 1 − ky, c + 1 − kx] (the input gradient's flipped
    /// correlation).
    /// </summary>
    private static void Correlate<T>(T* src, T* dst, T* wt, int h, int w, Vector512<T> mask, Vector512<T> init, bool accumulate, bool flip)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (flip) CorrelateRows<T, Flipped>(src, dst, wt, h, w, mask, init, accumulate);
        else CorrelateRows<T, Straight>(src, dst, wt, h, w, mask, init, accumulate);
    }

    /// <summary>Which correlation <see cref="CorrelateRows{T, TOrder}"/> runs, fixed when it is compiled.</summary>
    private interface IOrder { static abstract bool Flip { get; } }
    private struct Straight : IOrder { public static bool Flip => false; }
    private struct Flipped : IOrder { public static bool Flip => true; }

    /// <summary>
    /// The rows two at a time, their fused multiply-adds interleaved so that the two chains of nine overlap; each
    /// output still gets its nine taps in order. The window: rows r − 1 (a), r (b), r + 1 (c) and r + 2 (d), each as
    /// the row shifted right by one (l: column c − 1), the row itself (m) and the row shifted left by one (r: column
    /// c + 1), zeros beyond the plane.
    /// </summary>
    private static void CorrelateRows<T, TOrder>(T* src, T* dst, T* wt, int h, int w, Vector512<T> mask, Vector512<T> init, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T> where TOrder : struct, IOrder
    {
        var w0 = Vector512.Create(wt[0]); var w1 = Vector512.Create(wt[1]); var w2 = Vector512.Create(wt[2]);
        var w3 = Vector512.Create(wt[3]); var w4 = Vector512.Create(wt[4]); var w5 = Vector512.Create(wt[5]);
        var w6 = Vector512.Create(wt[6]); var w7 = Vector512.Create(wt[7]); var w8 = Vector512.Create(wt[8]);
        Vector512<T> al = default, am = default, ar = default;
        var bm = Load(src, mask);
        var bl = ShiftRight(bm); var br = ShiftLeft(bm);
        int r = 0;
        for (; r + 1 < h; r += 2)
        {
            var cm = Load(src + (long)(r + 1) * w, mask);
            var cl = ShiftRight(cm); var cr = ShiftLeft(cm);
            Vector512<T> dm = r + 2 < h ? Load(src + (long)(r + 2) * w, mask) : default;
            var dl = ShiftRight(dm); var dr = ShiftLeft(dm);
            T* o = dst + (long)r * w;
            var x0 = accumulate ? Load(o, mask) : init;
            var x1 = accumulate ? Load(o + w, mask) : init;
            if (TOrder.Flip)
            {
                // Tap (ky, kx) reads row r + 1 − ky, column c + 1 − kx: the window from its far end.
                x0 = Fma(w0, cr, x0); x1 = Fma(w0, dr, x1); x0 = Fma(w1, cm, x0); x1 = Fma(w1, dm, x1);
                x0 = Fma(w2, cl, x0); x1 = Fma(w2, dl, x1); x0 = Fma(w3, br, x0); x1 = Fma(w3, cr, x1);
                x0 = Fma(w4, bm, x0); x1 = Fma(w4, cm, x1); x0 = Fma(w5, bl, x0); x1 = Fma(w5, cl, x1);
                x0 = Fma(w6, ar, x0); x1 = Fma(w6, br, x1); x0 = Fma(w7, am, x0); x1 = Fma(w7, bm, x1);
                x0 = Fma(w8, al, x0); x1 = Fma(w8, bl, x1);
            }
            else
            {
                x0 = Fma(w0, al, x0); x1 = Fma(w0, bl, x1); x0 = Fma(w1, am, x0); x1 = Fma(w1, bm, x1);
                x0 = Fma(w2, ar, x0); x1 = Fma(w2, br, x1); x0 = Fma(w3, bl, x0); x1 = Fma(w3, cl, x1);
                x0 = Fma(w4, bm, x0); x1 = Fma(w4, cm, x1); x0 = Fma(w5, br, x0); x1 = Fma(w5, cr, x1);
                x0 = Fma(w6, cl, x0); x1 = Fma(w6, dl, x1); x0 = Fma(w7, cm, x0); x1 = Fma(w7, dm, x1);
                x0 = Fma(w8, cr, x0); x1 = Fma(w8, dr, x1);
            }
            Store(o, mask, x0);
            Store(o + w, mask, x1);
            al = cl; am = cm; ar = cr;
            bl = dl; bm = dm; br = dr;
        }
        if (r < h)
        {
            // The last row of an odd plane: the row below it is padding.
            T* o = dst + (long)r * w;
            var x0 = accumulate ? Load(o, mask) : init;
            var z = Vector512<T>.Zero;
            if (TOrder.Flip)
            {
                x0 = Fma(w0, z, x0); x0 = Fma(w1, z, x0); x0 = Fma(w2, z, x0);
                x0 = Fma(w3, br, x0); x0 = Fma(w4, bm, x0); x0 = Fma(w5, bl, x0);
                x0 = Fma(w6, ar, x0); x0 = Fma(w7, am, x0); x0 = Fma(w8, al, x0);
            }
            else
            {
                x0 = Fma(w0, al, x0); x0 = Fma(w1, am, x0); x0 = Fma(w2, ar, x0);
                x0 = Fma(w3, bl, x0); x0 = Fma(w4, bm, x0); x0 = Fma(w5, br, x0);
                x0 = Fma(w6, z, x0); x0 = Fma(w7, z, x0); x0 = Fma(w8, z, x0);
            }
            Store(o, mask, x0);
        }
    }

    /// <summary>
    /// sums[k] = Σ_n Σ_(r, c) gy[n][r, c]·x[n][r + ky − 1, c + kx − 1] for the nine taps k = (ky, kx) (zero outside the
    /// plane) and sums[9] = Σ gy: one vector per sum across the images in order and their rows in order, the plane's
    /// lanes summed at the end.
    /// </summary>
    private static void Dots<T>(T* x, T* gy, long xImage, long gyImage, int n, int h, int w, Vector512<T> mask, T* sums)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector512<T> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default, s8 = default, sb = default;
        for (long i = 0; i < n; i++)
        {
            T* src = x + i * xImage, g = gy + i * gyImage;
            Vector512<T> al = default, am = default, ar = default;
            var bm = Load(src, mask);
            var bl = ShiftRight(bm); var br = ShiftLeft(bm);
            for (int r = 0; r < h; r++)
            {
                Vector512<T> cm = r + 1 < h ? Load(src + (long)(r + 1) * w, mask) : default;
                var cl = ShiftRight(cm); var cr = ShiftLeft(cm);
                var gv = Load(g + (long)r * w, mask);
                sb += gv;
                s0 = Fma(gv, al, s0); s1 = Fma(gv, am, s1); s2 = Fma(gv, ar, s2);
                s3 = Fma(gv, bl, s3); s4 = Fma(gv, bm, s4); s5 = Fma(gv, br, s5);
                s6 = Fma(gv, cl, s6); s7 = Fma(gv, cm, s7); s8 = Fma(gv, cr, s8);
                al = bl; am = bm; ar = br;
                bl = cl; bm = cm; br = cr;
            }
        }
        // The lanes beyond the plane hold products of zeros with the shifted-in last column: left out, so that an
        // infinite pixel there cannot turn a sum into NaN.
        sums[0] = Total(s0, mask); sums[1] = Total(s1, mask); sums[2] = Total(s2, mask);
        sums[3] = Total(s3, mask); sums[4] = Total(s4, mask); sums[5] = Total(s5, mask);
        sums[6] = Total(s6, mask); sums[7] = Total(s7, mask); sums[8] = Total(s8, mask);
        sums[9] = Total(sb, mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Total<T>(Vector512<T> v, Vector512<T> mask) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector512.Sum(v & mask);

    /// <summary>Lane i holds v[i − 1]; lane 0 a zero (the left padding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> ShiftRight<T>(Vector512<T> v) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Avx512F.AlignRight32(v.AsInt32(), Vector512<int>.Zero, 15).As<int, T>();
        if (typeof(T) == typeof(double)) return Avx512F.AlignRight64(v.AsInt64(), Vector512<long>.Zero, 7).As<long, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Lane i holds v[i + 1]; the last lane a zero (the right padding, with the lanes beyond the row zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> ShiftLeft<T>(Vector512<T> v) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Avx512F.AlignRight32(Vector512<int>.Zero, v.AsInt32(), 1).As<int, T>();
        if (typeof(T) == typeof(double)) return Avx512F.AlignRight64(Vector512<long>.Zero, v.AsInt64(), 1).As<long, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>The row at <paramref name="p"/> in the lanes of <paramref name="mask"/>, zeros beyond (nothing read there).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Load<T>(T* p, Vector512<T> mask) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Avx512F.MaskLoad((float*)p, mask.AsSingle(), Vector512<float>.Zero).As<float, T>();
        if (typeof(T) == typeof(double)) return Avx512F.MaskLoad((double*)p, mask.AsDouble(), Vector512<double>.Zero).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(T* p, Vector512<T> mask, Vector512<T> v) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Avx512F.MaskStore((float*)p, mask.AsSingle(), v.AsSingle());
        else if (typeof(T) == typeof(double)) Avx512F.MaskStore((double*)p, mask.AsDouble(), v.AsDouble());
        else throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
