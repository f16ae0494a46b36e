using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// The float-row forward kernels of <see cref="LayerNormCpu"/> on <see cref="Vector512{T}"/> (eight doubles a lane group),
/// taken where <see cref="VectorWidth.Use512"/> holds. The arithmetic is the same, in double; only the split of the
/// sums into lanes differs from the <c>Vector&lt;double&gt;</c> form, so results agree to the last few bits of a double
/// sum, far below float's rounding (a test compares the widths).
/// </summary>
internal static unsafe partial class LayerNormCpu
{
    /// <summary>Eight floats at <paramref name="p"/> widened to doubles (one instruction on AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Widen8(float* p)
    {
        if (Avx512F.IsSupported) return Avx512F.ConvertToVector512Double(Vector256.Load(p));
        var (lo, hi) = Vector256.Widen(Vector256.Load(p));
        return Vector512.Create(lo, hi);
    }

    /// <summary>Eight doubles rounded to float and stored at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Narrow8(Vector512<double> v, float* p)
    {
        if (Avx512F.IsSupported) Avx512F.ConvertToVector256Single(v).Store(p);
        else Vector256.Narrow(v.GetLower(), v.GetUpper()).Store(p);
    }

    // Each pass is its own small loop: the JIT keeps the accumulators of a short method in registers.

    /// <summary>Σ x over a float row, in double.</summary>
    private static double SumWidened(float* x, int n)
    {
        Vector512<double> a0 = Vector512<double>.Zero, a1 = Vector512<double>.Zero;
        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            a0 += Widen8(x + i);
            a1 += Widen8(x + i + 8);
        }
        if (i <= n - 8) { a0 += Widen8(x + i); i += 8; }
        double sum = Vector512.Sum(a0 + a1);
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>Σ (x - mu)² over a float row, in double.</summary>
    private static double SquaredDeviationsWidened(float* x, int n, double mu)
    {
        Vector512<double> a0 = Vector512<double>.Zero, a1 = Vector512<double>.Zero, m = Vector512.Create(mu);
        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            var d0 = Widen8(x + i) - m;
            var d1 = Widen8(x + i + 8) - m;
            a0 = Vector512.FusedMultiplyAdd(d0, d0, a0);
            a1 = Vector512.FusedMultiplyAdd(d1, d1, a1);
        }
        if (i <= n - 8) { var d0 = Widen8(x + i) - m; a0 = Vector512.FusedMultiplyAdd(d0, d0, a0); i += 8; }
        double squares = Vector512.Sum(a0 + a1);
        for (; i < n; i++) { double d = x[i] - mu; squares += d * d; }
        return squares;
    }

    /// <summary>y = (x - mu) rs γ + β over a float row.</summary>
    private static void NormalizeWidened(float* x, float* y, double* gamma, double* beta, int n, double mu, double rs)
    {
        Vector512<double> m = Vector512.Create(mu), r = Vector512.Create(rs);
        int i = 0;
        for (; i <= n - 8; i += 8)
            Narrow8(Vector512.FusedMultiplyAdd((Widen8(x + i) - m) * r, Vector512.Load(gamma + i), Vector512.Load(beta + i)), y + i);
        for (; i < n; i++) y[i] = (float)((x[i] - mu) * rs * gamma[i] + beta[i]);
    }

    private static (double Mean, double Rstd) ForwardFloatRow512(float* x, float* y, double* gamma, double* beta, int n, double eps)
    {
        double mu = Wide.Average(SumWidened(x, n), n);
        double rs = 1 / Math.Sqrt(Wide.Average(SquaredDeviationsWidened(x, n, mu), n) + eps);
        NormalizeWidened(x, y, gamma, beta, n, mu, rs);
        return (mu, rs);
    }
}
