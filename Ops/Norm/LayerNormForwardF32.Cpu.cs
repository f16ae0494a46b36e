using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The float32 forward of <see cref="LayerNormCpu"/>, in float lanes like its backward (LayerNormBackwardF32.Cpu.cs):
/// the sums run in float lanes for at most <see cref="LaneRun"/> vectors before their lanes are added into a double
/// total. A first mean centres the row and the mean of the centred values corrects it (the corrected two-pass
/// algorithm), so a mean far from 0 against the spread costs no more than float roundings of the spread; the row is
/// then centred, scaled and shifted in float.
/// </summary>
internal static unsafe partial class LayerNormCpu
{
    private static void ForwardF32(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, long rows, int d, double eps)
    {
        float* xp = CpuBackend.Ptr<float>(x), yp = CpuBackend.Ptr<float>(y), mp = CpuBackend.Ptr<float>(mean), rp = CpuBackend.Ptr<float>(rstd);
        float* wp = w is null ? null : CpuBackend.Ptr<float>(w), bp = b is null ? null : CpuBackend.Ptr<float>(b);
        float[]? ones = w is null ? Enumerable.Repeat(1f, d).ToArray() : null;
        float[]? zeros = b is null ? new float[d] : null;
        CpuParallel.For(rows, 4.0 * d, (start, end) =>
        {
            fixed (float* onesPtr = ones, zerosPtr = zeros)
            {
                float* gamma = wp != null ? wp : onesPtr, beta = bp != null ? bp : zerosPtr;
                bool inRegisters = VectorWidth.Use512 && d % 16 == 0 && d is >= 16 and <= 64;
                for (long r = start; r < end; r++)
                {
                    float* xr = xp + r * d, yr = yp + r * d;
                    if (inRegisters)
                    {
                        ForwardRowInRegisters512(xr, yr, gamma, beta, d, eps, mp + r, rp + r);
                        continue;
                    }
                    // A first mean, rounded to float, centres the row; the mean of the centred values corrects it. The
                    // float sums of the first pass carry rounding errors of the size of the mean; those of the second,
                    // of the spread only.
                    float centre = (float)Wide.Average(VectorWidth.Use512 ? RowSum512(xr, d) : RowSum256(xr, d), d);
                    var (shift, squares) = VectorWidth.Use512 ? RowCentred512(xr, centre, d) : RowCentred256(xr, centre, d);
                    double rest = Wide.Average(shift, d);
                    // Σ (x - mean)² = Σ (x - centre)² - d (mean - centre)².
                    double variance = Math.Max(0, Wide.Average(squares, d) - rest * rest);
                    float rs = (float)(1 / Math.Sqrt(variance + eps));
                    if (VectorWidth.Use512) RowNormalize512(xr, yr, gamma, beta, centre, (float)rest, rs, d);
                    else RowNormalize256(xr, yr, gamma, beta, centre, (float)rest, rs, d);
                    mp[r] = (float)(centre + rest);
                    rp[r] = rs;
                }
            }
        });
    }

    /// <summary>
    /// The row of the general path for rows of one to four 16-float vectors, loaded once and kept in registers: the
    /// same operations in the same order, so the same bits, without the three passes' loads and calls (rows this
    /// short, vHeat's channels, spend most of their time outside the vector loops).
    /// </summary>
    private static void ForwardRowInRegisters512(float* x, float* y, float* gamma, float* beta, int n, double eps, float* mean, float* rstd)
    {
        int k = n / 16;
        Vector512<float> x0 = Vector512.Load(x), x1 = default, x2 = default, x3 = default;
        var a = x0;
        if (k > 1) a += x1 = Vector512.Load(x + 16);
        if (k > 2) a += x2 = Vector512.Load(x + 32);
        if (k > 3) a += x3 = Vector512.Load(x + 48);
        float centre = (float)Wide.Average(0 + (double)HSum(a), n);
        var m = Vector512.Create(centre);
        Vector512<float> c0 = x0 - m, c1 = x1 - m, c2 = x2 - m, c3 = x3 - m;
        Vector512<float> s = c0, q = c0 * c0;
        if (k > 1) { s += c1; q = Vector512.FusedMultiplyAdd(c1, c1, q); }
        if (k > 2) { s += c2; q = Vector512.FusedMultiplyAdd(c2, c2, q); }
        if (k > 3) { s += c3; q = Vector512.FusedMultiplyAdd(c3, c3, q); }
        double rest = Wide.Average(0 + (double)HSum(s), n);
        double variance = Math.Max(0, Wide.Average(0 + (double)HSum(q), n) - rest * rest);
        float rs = (float)(1 / Math.Sqrt(variance + eps));
        Vector512<float> e = Vector512.Create((float)rest), r = Vector512.Create(rs);
        Vector512.FusedMultiplyAdd((x0 - m - e) * r, Vector512.Load(gamma), Vector512.Load(beta)).Store(y);
        if (k > 1) Vector512.FusedMultiplyAdd((x1 - m - e) * r, Vector512.Load(gamma + 16), Vector512.Load(beta + 16)).Store(y + 16);
        if (k > 2) Vector512.FusedMultiplyAdd((x2 - m - e) * r, Vector512.Load(gamma + 32), Vector512.Load(beta + 32)).Store(y + 32);
        if (k > 3) Vector512.FusedMultiplyAdd((x3 - m - e) * r, Vector512.Load(gamma + 48), Vector512.Load(beta + 48)).Store(y + 48);
        *mean = (float)(centre + rest);
        *rstd = rs;
    }

    internal static double RowSum512(float* x, int n)
    {
        double sum = 0;
        int i = 0, whole = n & ~15;
        while (i < whole)
        {
            Vector512<float> a = Vector512<float>.Zero;
            for (int stop = Math.Min(whole, i + 16 * LaneRun); i < stop; i += 16) a += Vector512.Load(x + i);
            sum += HSum(a);
        }
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    internal static double RowSum256(float* x, int n)
    {
        double sum = 0;
        int i = 0, whole = n & ~7;
        while (i < whole)
        {
            Vector256<float> a = Vector256<float>.Zero;
            for (int stop = Math.Min(whole, i + 8 * LaneRun); i < stop; i += 8) a += Vector256.Load(x + i);
            sum += HSum(a);
        }
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>Σ (x - centre) and Σ (x - centre)² over a row, the differences and squares in float.</summary>
    internal static (double Sum, double Squares) RowCentred512(float* x, float centre, int n)
    {
        Vector512<float> m = Vector512.Create(centre);
        double sum = 0, squares = 0;
        int i = 0, whole = n & ~15;
        while (i < whole)
        {
            Vector512<float> a = Vector512<float>.Zero, b = Vector512<float>.Zero;
            for (int stop = Math.Min(whole, i + 16 * LaneRun); i < stop; i += 16)
            {
                var c = Vector512.Load(x + i) - m;
                a += c;
                b = Vector512.FusedMultiplyAdd(c, c, b);
            }
            sum += HSum(a);
            squares += HSum(b);
        }
        return RowCentredTail(x, centre, i, n, sum, squares);
    }

    internal static (double Sum, double Squares) RowCentred256(float* x, float centre, int n)
    {
        Vector256<float> m = Vector256.Create(centre);
        double sum = 0, squares = 0;
        int i = 0, whole = n & ~7;
        while (i < whole)
        {
            Vector256<float> a = Vector256<float>.Zero, b = Vector256<float>.Zero;
            for (int stop = Math.Min(whole, i + 8 * LaneRun); i < stop; i += 8)
            {
                var c = Vector256.Load(x + i) - m;
                a += c;
                b = Vector256.FusedMultiplyAdd(c, c, b);
            }
            sum += HSum(a);
            squares += HSum(b);
        }
        return RowCentredTail(x, centre, i, n, sum, squares);
    }

    private static (double Sum, double Squares) RowCentredTail(float* x, float centre, int i, int n, double sum, double squares)
    {
        for (; i < n; i++)
        {
            float c = x[i] - centre;
            sum += c;
            squares += c * c;
        }
        return (sum, squares);
    }

    /// <summary>y = ((x - mean) - rest) rstd γ + β, where mean + rest is the row's mean.</summary>
    private static void RowNormalize512(float* x, float* y, float* gamma, float* beta, float mean, float rest, float rstd, int n)
    {
        Vector512<float> m = Vector512.Create(mean), e = Vector512.Create(rest), r = Vector512.Create(rstd);
        int i = 0;
        for (; i <= n - 16; i += 16)
            Vector512.FusedMultiplyAdd((Vector512.Load(x + i) - m - e) * r, Vector512.Load(gamma + i), Vector512.Load(beta + i)).Store(y + i);
        RowNormalizeTail(x, y, gamma, beta, mean, rest, rstd, i, n);
    }

    private static void RowNormalize256(float* x, float* y, float* gamma, float* beta, float mean, float rest, float rstd, int n)
    {
        Vector256<float> m = Vector256.Create(mean), e = Vector256.Create(rest), r = Vector256.Create(rstd);
        int i = 0;
        for (; i <= n - 8; i += 8)
            Vector256.FusedMultiplyAdd((Vector256.Load(x + i) - m - e) * r, Vector256.Load(gamma + i), Vector256.Load(beta + i)).Store(y + i);
        RowNormalizeTail(x, y, gamma, beta, mean, rest, rstd, i, n);
    }

    private static void RowNormalizeTail(float* x, float* y, float* gamma, float* beta, float mean, float rest, float rstd, int i, int n)
    {
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd((x[i] - mean - rest) * rstd, gamma[i], beta[i]);
    }
}
