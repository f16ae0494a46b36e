using System.Runtime.Intrinsics;

namespace Engine.Cpu;

/// <summary>
/// One decimation-in-time pass of radix p over a row of n complex values (split storage): every block
/// of p*span elements holds p adjacent sub-transforms of length span, which become one of length p*span.
/// Input q of butterfly j is multiplied by the twiddle tw[(q-1)*span + j] first. Forward sign throughout.
/// </summary>
internal static unsafe class Butterflies
{
    /// <summary>Tests set this to run the scalar passes on a machine with vector units.</summary>
    internal static bool ForceScalar { get; set; }

    private const double Sin60 = 0.86602540378443864676; // sqrt(3)/2
    private static readonly double Cos72 = Math.Cos(2 * Math.PI / 5), Cos144 = Math.Cos(4 * Math.PI / 5);
    private static readonly double Sin72 = Math.Sin(2 * Math.PI / 5), Sin144 = Math.Sin(4 * Math.PI / 5);

    public static void Radix2(double* re, double* im, int n, int span, double* tr, double* ti)
    {
        if (span % 4 == 0 && Vector256.IsHardwareAccelerated && !ForceScalar)
        {
            ButterfliesVector.Radix2(re, im, n, span, tr, ti);
            return;
        }
        for (int b = 0; b < n; b += 2 * span)
        for (int j = 0; j < span; j++)
        {
            int i0 = b + j, i1 = i0 + span;
            double xr = re[i1] * tr[j] - im[i1] * ti[j];
            double xi = re[i1] * ti[j] + im[i1] * tr[j];
            double ar = re[i0], ai = im[i0];
            re[i0] = ar + xr; im[i0] = ai + xi;
            re[i1] = ar - xr; im[i1] = ai - xi;
        }
    }

    public static void Radix3(double* re, double* im, int n, int span, double* tr, double* ti)
    {
        for (int b = 0; b < n; b += 3 * span)
        for (int j = 0; j < span; j++)
        {
            int i0 = b + j, i1 = i0 + span, i2 = i1 + span;
            double a0r = re[i0], a0i = im[i0];
            double a1r = re[i1] * tr[j] - im[i1] * ti[j], a1i = re[i1] * ti[j] + im[i1] * tr[j];
            double a2r = re[i2] * tr[span + j] - im[i2] * ti[span + j], a2i = re[i2] * ti[span + j] + im[i2] * tr[span + j];
            double sr = a1r + a2r, si = a1i + a2i;
            double mr = a0r - 0.5 * sr, mi = a0i - 0.5 * si;
            // -i * sin(60) * (a1 - a2)
            double nr = Sin60 * (a1i - a2i), ni = -Sin60 * (a1r - a2r);
            re[i0] = a0r + sr; im[i0] = a0i + si;
            re[i1] = mr + nr; im[i1] = mi + ni;
            re[i2] = mr - nr; im[i2] = mi - ni;
        }
    }

    public static void Radix4(double* re, double* im, int n, int span, double* tr, double* ti)
    {
        if (span % 4 == 0 && Vector256.IsHardwareAccelerated && !ForceScalar)
        {
            ButterfliesVector.Radix4(re, im, n, span, tr, ti);
            return;
        }
        if (span == 1)
        {
            Radix4FirstPass(re, im, n);
            return;
        }
        for (int b = 0; b < n; b += 4 * span)
        for (int j = 0; j < span; j++)
        {
            int i0 = b + j, i1 = i0 + span, i2 = i1 + span, i3 = i2 + span;
            double a0r = re[i0], a0i = im[i0];
            double a1r = re[i1] * tr[j] - im[i1] * ti[j], a1i = re[i1] * ti[j] + im[i1] * tr[j];
            double a2r = re[i2] * tr[span + j] - im[i2] * ti[span + j], a2i = re[i2] * ti[span + j] + im[i2] * tr[span + j];
            double a3r = re[i3] * tr[2 * span + j] - im[i3] * ti[2 * span + j], a3i = re[i3] * ti[2 * span + j] + im[i3] * tr[2 * span + j];
            double s02r = a0r + a2r, s02i = a0i + a2i, d02r = a0r - a2r, d02i = a0i - a2i;
            double s13r = a1r + a3r, s13i = a1i + a3i, d13r = a1r - a3r, d13i = a1i - a3i;
            re[i0] = s02r + s13r; im[i0] = s02i + s13i;
            re[i2] = s02r - s13r; im[i2] = s02i - s13i;
            // y1 = d02 - i*d13, y3 = d02 + i*d13
            re[i1] = d02r + d13i; im[i1] = d02i - d13r;
            re[i3] = d02r - d13i; im[i3] = d02i + d13r;
        }
    }

    // The first pass's twiddles are all exactly 1, so it skips the multiplies (same results for finite inputs).
    private static void Radix4FirstPass(double* re, double* im, int n)
    {
        for (int i0 = 0; i0 < n; i0 += 4)
        {
            int i1 = i0 + 1, i2 = i0 + 2, i3 = i0 + 3;
            double s02r = re[i0] + re[i2], s02i = im[i0] + im[i2], d02r = re[i0] - re[i2], d02i = im[i0] - im[i2];
            double s13r = re[i1] + re[i3], s13i = im[i1] + im[i3], d13r = re[i1] - re[i3], d13i = im[i1] - im[i3];
            re[i0] = s02r + s13r; im[i0] = s02i + s13i;
            re[i2] = s02r - s13r; im[i2] = s02i - s13i;
            re[i1] = d02r + d13i; im[i1] = d02i - d13r;
            re[i3] = d02r - d13i; im[i3] = d02i + d13r;
        }
    }

    public static void Radix5(double* re, double* im, int n, int span, double* tr, double* ti)
    {
        double c1 = Cos72, c2 = Cos144, s1 = Sin72, s2 = Sin144;
        for (int b = 0; b < n; b += 5 * span)
        for (int j = 0; j < span; j++)
        {
            int i0 = b + j, i1 = i0 + span, i2 = i1 + span, i3 = i2 + span, i4 = i3 + span;
            double a0r = re[i0], a0i = im[i0];
            double a1r = re[i1] * tr[j] - im[i1] * ti[j], a1i = re[i1] * ti[j] + im[i1] * tr[j];
            double a2r = re[i2] * tr[span + j] - im[i2] * ti[span + j], a2i = re[i2] * ti[span + j] + im[i2] * tr[span + j];
            double a3r = re[i3] * tr[2 * span + j] - im[i3] * ti[2 * span + j], a3i = re[i3] * ti[2 * span + j] + im[i3] * tr[2 * span + j];
            double a4r = re[i4] * tr[3 * span + j] - im[i4] * ti[3 * span + j], a4i = re[i4] * ti[3 * span + j] + im[i4] * tr[3 * span + j];
            double b1r = a1r + a4r, b1i = a1i + a4i, d1r = a1r - a4r, d1i = a1i - a4i;
            double b2r = a2r + a3r, b2i = a2i + a3i, d2r = a2r - a3r, d2i = a2i - a3i;
            double m1r = a0r + c1 * b1r + c2 * b2r, m1i = a0i + c1 * b1i + c2 * b2i;
            double m2r = a0r + c2 * b1r + c1 * b2r, m2i = a0i + c2 * b1i + c1 * b2i;
            // n1 = -i (s1 d1 + s2 d2), n2 = -i (s2 d1 - s1 d2); -i*(x + iy) = y - ix
            double e1r = s1 * d1r + s2 * d2r, e1i = s1 * d1i + s2 * d2i;
            double e2r = s2 * d1r - s1 * d2r, e2i = s2 * d1i - s1 * d2i;
            re[i0] = a0r + b1r + b2r; im[i0] = a0i + b1i + b2i;
            re[i1] = m1r + e1i; im[i1] = m1i - e1r;
            re[i4] = m1r - e1i; im[i4] = m1i + e1r;
            re[i2] = m2r + e2i; im[i2] = m2i - e2r;
            re[i3] = m2r - e2i; im[i3] = m2i + e2r;
        }
    }

    /// <summary>Any radix, by the direct p-point sum; roots[k] = e^{-2 pi i k/p}.</summary>
    public static void Generic(double* re, double* im, int n, int span, int p, double* tr, double* ti, double* rootRe, double* rootIm)
    {
        double* ar = stackalloc double[p];
        double* ai = stackalloc double[p];
        for (int b = 0; b < n; b += p * span)
        for (int j = 0; j < span; j++)
        {
            int i0 = b + j;
            ar[0] = re[i0]; ai[0] = im[i0];
            for (int q = 1; q < p; q++)
            {
                int i = i0 + q * span;
                ar[q] = re[i] * tr[(q - 1) * span + j] - im[i] * ti[(q - 1) * span + j];
                ai[q] = re[i] * ti[(q - 1) * span + j] + im[i] * tr[(q - 1) * span + j];
            }
            for (int k = 0; k < p; k++)
            {
                double yr = ar[0], yi = ai[0];
                int r = 0;
                for (int q = 1; q < p; q++)
                {
                    r += k;
                    if (r >= p) r -= p;
                    yr += ar[q] * rootRe[r] - ai[q] * rootIm[r];
                    yi += ar[q] * rootIm[r] + ai[q] * rootRe[r];
                }
                re[i0 + k * span] = yr; im[i0 + k * span] = yi;
            }
        }
    }
}
