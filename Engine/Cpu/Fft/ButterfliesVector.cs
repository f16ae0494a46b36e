using System.Runtime.Intrinsics;
using V = System.Runtime.Intrinsics.Vector256<double>;

namespace Engine.Cpu;

/// <summary>
/// The radix-2 and radix-4 passes of <see cref="Butterflies"/> four butterflies at a time, for spans that
/// are multiples of four (every pass but the first of a power-of-two length, so also all of Bluestein's
/// inner transforms). Split storage makes four consecutive butterflies four consecutive doubles. Plain
/// multiplies and adds, no FMA: the same roundings as the scalar code.
/// </summary>
internal static unsafe class ButterfliesVector
{
    public static void Radix2(double* re, double* im, int n, int span, double* tr, double* ti)
    {
        for (int b = 0; b < n; b += 2 * span)
        for (int j = 0; j < span; j += 4)
        {
            int i0 = b + j, i1 = i0 + span;
            var (xr, xi) = Twiddle(re + i1, im + i1, tr + j, ti + j);
            V ar = Vector256.Load(re + i0), ai = Vector256.Load(im + i0);
            (ar + xr).Store(re + i0); (ai + xi).Store(im + i0);
            (ar - xr).Store(re + i1); (ai - xi).Store(im + i1);
        }
    }

    public static void Radix4(double* re, double* im, int n, int span, double* tr, double* ti)
    {
        for (int b = 0; b < n; b += 4 * span)
        for (int j = 0; j < span; j += 4)
        {
            int i0 = b + j, i1 = i0 + span, i2 = i1 + span, i3 = i2 + span;
            V a0r = Vector256.Load(re + i0), a0i = Vector256.Load(im + i0);
            var (a1r, a1i) = Twiddle(re + i1, im + i1, tr + j, ti + j);
            var (a2r, a2i) = Twiddle(re + i2, im + i2, tr + span + j, ti + span + j);
            var (a3r, a3i) = Twiddle(re + i3, im + i3, tr + 2 * span + j, ti + 2 * span + j);
            V s02r = a0r + a2r, s02i = a0i + a2i, d02r = a0r - a2r, d02i = a0i - a2i;
            V s13r = a1r + a3r, s13i = a1i + a3i, d13r = a1r - a3r, d13i = a1i - a3i;
            (s02r + s13r).Store(re + i0); (s02i + s13i).Store(im + i0);
            (s02r - s13r).Store(re + i2); (s02i - s13i).Store(im + i2);
            (d02r + d13i).Store(re + i1); (d02i - d13r).Store(im + i1);
            (d02r - d13i).Store(re + i3); (d02i + d13r).Store(im + i3);
        }
    }

    // Four inputs times their four twiddles.
    private static (V Re, V Im) Twiddle(double* xr, double* xi, double* tr, double* ti)
    {
        V r = Vector256.Load(xr), i = Vector256.Load(xi), wr = Vector256.Load(tr), wi = Vector256.Load(ti);
        return (r * wr - i * wi, r * wi + i * wr);
    }
}
