using System.Numerics;
using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// Double-precision arithmetic on short tiles, for the norm and linear kernels. F32 data is widened to
/// double as it is loaded, so every sum and every normalisation runs in double whatever the dtype: float
/// accumulators lose digits over long rows, and a mean subtracted in float cancels badly when the mean is
/// large against the spread. Every loop has a fixed shape for a given length, so results do not depend
/// on which thread runs them. The element-by-element forms (widening, narrowing, the lane forms of the
/// channels-first norms) take 512-bit vectors first where <see cref="VectorWidth.Use512"/> holds: the same
/// operations per element, so the same bits; the sums keep their <c>Vector&lt;double&gt;</c> lane split.
/// </summary>
internal static unsafe class Wide
{
    /// <summary>Elements per tile: the kernels stream longer runs through tiles of this length.</summary>
    public const int Tile = 512;

    private static int W => Vector<double>.Count;

    /// <summary>The <paramref name="n"/> elements at <paramref name="src"/> as doubles: the data itself for double, else widened into <paramref name="scratch"/>.</summary>
    public static double* Load<T>(T* src, int n, double* scratch) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) return (double*)src;
        float* s = (float*)src;
        int i = 0;
        if (VectorWidth.Use512)
            for (; i <= n - 16; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(s + i));
                lo.Store(scratch + i);
                hi.Store(scratch + i + 8);
            }
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
        {
            Vector.Widen(Vector.Load(s + i), out var lo, out var hi);
            lo.Store(scratch + i);
            hi.Store(scratch + i + W);
        }
        for (; i < n; i++) scratch[i] = s[i];
        return scratch;
    }

    /// <summary>Where a kernel should write a tile that goes to <paramref name="dst"/>: the destination itself for double, else <paramref name="scratch"/>.</summary>
    public static double* Target<T>(T* dst, double* scratch) where T : unmanaged =>
        typeof(T) == typeof(double) ? (double*)dst : scratch;

    /// <summary>Writes a tile produced at <see cref="Target{T}"/> to <paramref name="dst"/> (rounding to float for F32).</summary>
    public static void Store<T>(double* src, T* dst, int n) where T : unmanaged
    {
        if (typeof(T) == typeof(double))
        {
            if (src != (double*)dst) new ReadOnlySpan<double>(src, n).CopyTo(new Span<double>(dst, n));
            return;
        }
        float* d = (float*)dst;
        int i = 0;
        if (VectorWidth.Use512)
            for (; i <= n - 16; i += 16)
                Vector512.Narrow(Vector512.Load(src + i), Vector512.Load(src + i + 8)).Store(d + i);
        for (; i <= n - 2 * W; i += 2 * W)
            Vector.Narrow(Vector.Load(src + i), Vector.Load(src + i + W)).Store(d + i);
        for (; i < n; i++) d[i] = (float)src[i];
    }

    /// <summary>One element as a double.</summary>
    public static double Get<T>(T* p) where T : unmanaged => typeof(T) == typeof(double) ? *(double*)p : *(float*)p;

    /// <summary>Writes one element, rounding to float for F32.</summary>
    public static void Set<T>(T* p, double v) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) *(double*)p = v;
        else *(float*)p = (float)v;
    }

    /// <summary>sum / count, and 0 for an empty set, whose statistics must stay finite (0 · rstd is a gradient too).</summary>
    public static double Average(double sum, long count) => count == 0 ? 0 : sum / count;

    /// <summary>Σ x.</summary>
    public static double Sum(double* x, int n)
    {
        // Four independent accumulators: one would wait on the latency of every addition.
        Vector<double> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= n - 4 * W; i += 4 * W)
        {
            a0 += Vector.Load(x + i); a1 += Vector.Load(x + i + W);
            a2 += Vector.Load(x + i + 2 * W); a3 += Vector.Load(x + i + 3 * W);
        }
        for (; i <= n - W; i += W) a0 += Vector.Load(x + i);
        double s = Vector.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>Σ (x - mean)².</summary>
    public static double SumSquaredDeviations(double* x, int n, double mean)
    {
        Vector<double> a0 = default, a1 = default, a2 = default, a3 = default, m = new(mean);
        int i = 0;
        for (; i <= n - 4 * W; i += 4 * W)
        {
            var d0 = Vector.Load(x + i) - m; var d1 = Vector.Load(x + i + W) - m;
            var d2 = Vector.Load(x + i + 2 * W) - m; var d3 = Vector.Load(x + i + 3 * W) - m;
            a0 += d0 * d0; a1 += d1 * d1; a2 += d2 * d2; a3 += d3 * d3;
        }
        for (; i <= n - W; i += W) { var d = Vector.Load(x + i) - m; a0 += d * d; }
        double s = Vector.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) { double d = x[i] - mean; s += d * d; }
        return s;
    }

    /// <summary>Σ g·(x - mean).</summary>
    public static double SumCentredProducts(double* g, double* x, int n, double mean)
    {
        Vector<double> a0 = default, a1 = default, m = new(mean);
        int i = 0;
        for (; i <= n - 2 * W; i += 2 * W)
        {
            a0 += Vector.Load(g + i) * (Vector.Load(x + i) - m);
            a1 += Vector.Load(g + i + W) * (Vector.Load(x + i + W) - m);
        }
        double s = Vector.Sum(a0 + a1);
        for (; i < n; i++) s += g[i] * (x[i] - mean);
        return s;
    }

    /// <summary>Σ g and Σ g·(x - mean) over float data, widened in registers (no scratch tile).</summary>
    public static (double SumG, double SumGx) SumAndCentredProducts(float* g, float* x, long n, double mean)
    {
        Vector<double> a0 = default, a1 = default, b0 = default, b1 = default, m = new(mean);
        long i = 0;
        for (; i <= n - 2 * W; i += 2 * W)
        {
            Vector.Widen(Vector.Load(g + i), out var g0, out var g1);
            Vector.Widen(Vector.Load(x + i), out var x0, out var x1);
            a0 += g0;
            a1 += g1;
            b0 += g0 * (x0 - m);
            b1 += g1 * (x1 - m);
        }
        double sa = Vector.Sum(a0 + a1), sb = Vector.Sum(b0 + b1);
        for (; i < n; i++) { sa += g[i]; sb += g[i] * (x[i] - mean); }
        return (sa, sb);
    }

    /// <summary>dx = alpha·g + c1·x + c0 on float data, widened in registers and rounded once.</summary>
    public static void Combine(float* g, float* x, double alpha, double c1, double c0, float* dx, long n)
    {
        Vector<double> a = new(alpha), k1 = new(c1), k0 = new(c0);
        long i = 0;
        for (; i <= n - 2 * W; i += 2 * W)
        {
            Vector.Widen(Vector.Load(g + i), out var g0, out var g1);
            Vector.Widen(Vector.Load(x + i), out var x0, out var x1);
            Vector.Narrow(g0 * a + x0 * k1 + k0, g1 * a + x1 * k1 + k0).Store(dx + i);
        }
        for (; i < n; i++) dx[i] = (float)(g[i] * alpha + x[i] * c1 + c0);
    }

    /// <summary>y = x·scale + shift.</summary>
    public static void ScaleShift(double* x, double scale, double shift, double* y, int n)
    {
        Vector<double> a = new(scale), b = new(shift);
        int i = 0;
        for (; i <= n - W; i += W) (Vector.Load(x + i) * a + b).Store(y + i);
        for (; i < n; i++) y[i] = x[i] * scale + shift;
    }

    /// <summary>y = (x - mean)·rstd·gamma + beta, with per-element gamma and beta.</summary>
    public static void NormalizeAffine(double* x, double mean, double rstd, double* gamma, double* beta, double* y, int n)
    {
        Vector<double> m = new(mean), r = new(rstd);
        int i = 0;
        for (; i <= n - W; i += W)
            ((Vector.Load(x + i) - m) * r * Vector.Load(gamma + i) + Vector.Load(beta + i)).Store(y + i);
        for (; i < n; i++) y[i] = (x[i] - mean) * rstd * gamma[i] + beta[i];
    }

    /// <summary>dx = alpha·g + c1·x + c0: the input gradient of a normalisation, with alpha scalar.</summary>
    public static void Combine(double* g, double* x, double alpha, double c1, double c0, double* dx, int n)
    {
        Vector<double> a = new(alpha), k1 = new(c1), k0 = new(c0);
        int i = 0;
        for (; i <= n - W; i += W) (Vector.Load(g + i) * a + Vector.Load(x + i) * k1 + k0).Store(dx + i);
        for (; i < n; i++) dx[i] = g[i] * alpha + x[i] * c1 + c0;
    }

    /// <summary>dx = alpha·gamma·g + c1·x + c0, with per-element gamma.</summary>
    public static void Combine(double* g, double* gamma, double* x, double alpha, double c1, double c0, double* dx, int n)
    {
        Vector<double> a = new(alpha), k1 = new(c1), k0 = new(c0);
        int i = 0;
        for (; i <= n - W; i += W)
            (Vector.Load(g + i) * Vector.Load(gamma + i) * a + Vector.Load(x + i) * k1 + k0).Store(dx + i);
        for (; i < n; i++) dx[i] = g[i] * gamma[i] * alpha + x[i] * c1 + c0;
    }

    /// <summary>acc += x.</summary>
    public static void Add(double* acc, double* x, int n)
    {
        int i = 0;
        if (VectorWidth.Use512)
            for (; i <= n - 8; i += 8) (Vector512.Load(acc + i) + Vector512.Load(x + i)).Store(acc + i);
        for (; i <= n - W; i += W) (Vector.Load(acc + i) + Vector.Load(x + i)).Store(acc + i);
        for (; i < n; i++) acc[i] += x[i];
    }

    /// <summary>acc += (x - mean)², with a mean per element.</summary>
    public static void AddSquaredDeviations(double* acc, double* x, double* mean, int n)
    {
        int i = 0;
        if (VectorWidth.Use512)
            for (; i <= n - 8; i += 8)
            {
                var d = Vector512.Load(x + i) - Vector512.Load(mean + i);
                (Vector512.Load(acc + i) + d * d).Store(acc + i);
            }
        for (; i <= n - W; i += W)
        {
            var d = Vector.Load(x + i) - Vector.Load(mean + i);
            (Vector.Load(acc + i) + d * d).Store(acc + i);
        }
        for (; i < n; i++) { double d = x[i] - mean[i]; acc[i] += d * d; }
    }

    /// <summary>dGamma += g·(x - mean)·rstd and dBeta += g, element by element (one row's share of the affine gradients).</summary>
    public static void AddAffineGradients(double* dGamma, double* dBeta, double* g, double* x, double mean, double rstd, int n)
    {
        Vector<double> m = new(mean), r = new(rstd);
        int i = 0;
        for (; i <= n - W; i += W)
        {
            var gv = Vector.Load(g + i);
            (Vector.Load(dGamma + i) + gv * (Vector.Load(x + i) - m) * r).Store(dGamma + i);
            (Vector.Load(dBeta + i) + gv).Store(dBeta + i);
        }
        for (; i < n; i++) { dGamma[i] += g[i] * (x[i] - mean) * rstd; dBeta[i] += g[i]; }
    }
    /// <summary>a = Σ g·gamma and b = Σ g·gamma·(x - mean), with per-element gamma.</summary>
    public static (double A, double B) SumWeighted(double* g, double* gamma, double* x, double mean, int n)
    {
        Vector<double> a = default, b = default, m = new(mean);
        int i = 0;
        for (; i <= n - W; i += W)
        {
            var gg = Vector.Load(g + i) * Vector.Load(gamma + i);
            a += gg;
            b += gg * (Vector.Load(x + i) - m);
        }
        double sa = Vector.Sum(a), sb = Vector.Sum(b);
        for (; i < n; i++) { double gg = g[i] * gamma[i]; sa += gg; sb += gg * (x[i] - mean); }
        return (sa, sb);
    }

    // Lane forms: one statistic per element position (the channels-first layer norm normalises across
    // rows, one pixel per lane).

    /// <summary>y = (x - mean[i])·rstd[i]·gamma + beta.</summary>
    public static void NormalizeLanes(double* x, double* mean, double* rstd, double gamma, double beta, double* y, int n)
    {
        Vector<double> gv = new(gamma), bv = new(beta);
        int i = 0;
        if (VectorWidth.Use512)
        {
            Vector512<double> g8 = Vector512.Create(gamma), b8 = Vector512.Create(beta);
            for (; i <= n - 8; i += 8)
                ((Vector512.Load(x + i) - Vector512.Load(mean + i)) * Vector512.Load(rstd + i) * g8 + b8).Store(y + i);
        }
        for (; i <= n - W; i += W)
            ((Vector.Load(x + i) - Vector.Load(mean + i)) * Vector.Load(rstd + i) * gv + bv).Store(y + i);
        for (; i < n; i++) y[i] = (x[i] - mean[i]) * rstd[i] * gamma + beta;
    }

    /// <summary>
    /// a[i] += gamma·g and b[i] += gamma·g·(x - mean[i]); returns this row's shares of the affine
    /// gradients, Σ g·(x - mean[i])·rstd[i] and Σ g.
    /// </summary>
    public static (double DGamma, double DBeta) AddLaneSums(double* g, double* x, double* mean, double* rstd, double gamma, double* a, double* b, int n)
    {
        Vector<double> gv = new(gamma), dg = default, db = default;
        int i = 0;
        for (; i <= n - W; i += W)
        {
            var gi = Vector.Load(g + i);
            var xc = Vector.Load(x + i) - Vector.Load(mean + i);
            (Vector.Load(a + i) + gi * gv).Store(a + i);
            (Vector.Load(b + i) + gi * gv * xc).Store(b + i);
            dg += gi * xc * Vector.Load(rstd + i);
            db += gi;
        }
        double sg = Vector.Sum(dg), sb = Vector.Sum(db);
        for (; i < n; i++)
        {
            double xc = x[i] - mean[i];
            a[i] += g[i] * gamma;
            b[i] += g[i] * gamma * xc;
            sg += g[i] * xc * rstd[i];
            sb += g[i];
        }
        return (sg, sb);
    }

    /// <summary>dx = gamma·rstd[i]·g + c1[i]·x + c0[i].</summary>
    public static void CombineLanes(double* g, double* x, double gamma, double* rstd, double* c1, double* c0, double* dx, int n)
    {
        Vector<double> gv = new(gamma);
        int i = 0;
        if (VectorWidth.Use512)
        {
            Vector512<double> g8 = Vector512.Create(gamma);
            for (; i <= n - 8; i += 8)
                (Vector512.Load(g + i) * Vector512.Load(rstd + i) * g8 + Vector512.Load(x + i) * Vector512.Load(c1 + i) + Vector512.Load(c0 + i)).Store(dx + i);
        }
        for (; i <= n - W; i += W)
            (Vector.Load(g + i) * Vector.Load(rstd + i) * gv + Vector.Load(x + i) * Vector.Load(c1 + i) + Vector.Load(c0 + i)).Store(dx + i);
        for (; i < n; i++) dx[i] = g[i] * rstd[i] * gamma + x[i] * c1[i] + c0[i];
    }
}
