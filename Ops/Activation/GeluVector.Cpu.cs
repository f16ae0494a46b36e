using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Engine.Ops.ErfCoefficients;

namespace Engine.Ops;

/// <summary>
/// The exact GELU forward and fused backward on contiguous spans. F64: four doubles at a time, the same three ranges
/// of Cody's erfc as <see cref="ErrorFunction"/>, all evaluated and blended (no branches); it agrees with the scalar
/// path to within the exponential's last bit. F32: eight floats at a time in float, with an erfc of float accuracy only
/// (within 5.5 ulps of the exact GELU, 1.5 for its derivative; see <c>CdfF</c>), much cheaper; the scalar path, in double, is the reference its test compares with.
/// Where AVX-512 runs (<see cref="VectorWidth"/>), F32 takes sixteen floats at a time first (<c>GeluVector512.Cpu.cs</c>:
/// the same operations per lane, so the same bits) and leaves the last few to the eight-float loop.
/// </summary>
internal static partial class GeluVector
{
    private const double Sqrt1_2 = 0.70710678118654752440;
    private const double OneOverSqrtPi = 0.56418958354775628695;
    private const double InvSqrt2Pi = 0.39894228040143267794;

    public static bool TryForward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged
    {
        if (!Vector256.IsHardwareAccelerated) return false;
        if (typeof(T) == typeof(double))
        {
            Forward(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y));
            return true;
        }
        if (typeof(T) == typeof(float))
        {
            Forward(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y));
            return true;
        }
        return false;
    }

    public static bool TryBackward<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, Span<T> gx) where T : unmanaged
    {
        if (!Vector256.IsHardwareAccelerated) return false;
        if (typeof(T) == typeof(double))
        {
            Backward(MemoryMarshal.Cast<T, double>(g), MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(gx));
            return true;
        }
        if (typeof(T) == typeof(float))
        {
            Backward(MemoryMarshal.Cast<T, float>(g), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(gx));
            return true;
        }
        return false;
    }

    private static void Forward(ReadOnlySpan<double> x, Span<double> y)
    {
        int i = 0;
        for (; i + 4 <= x.Length; i += 4)
        {
            var v = Vector256.Create(x.Slice(i, 4));
            (v * Cdf(v)).CopyTo(y.Slice(i, 4));
        }
        for (; i < x.Length; i++) y[i] = GeluOp.Forward(x[i], 0.0, 0.0);
    }

    private static void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = VectorWidth.Use512 ? Forward512(x, y) : 0;
        for (; i + 8 <= x.Length; i += 8)
        {
            var v = Vector256.Create(x.Slice(i, 8));
            (v * CdfF(v)).CopyTo(y.Slice(i, 8));
        }
        if (i == x.Length) return;
        // The last few through the same lanes (padded), so that an element's value never depends on where a range ends.
        Span<float> pad = stackalloc float[8];
        x[i..].CopyTo(pad);
        var last = Vector256.Create((ReadOnlySpan<float>)pad);
        (last * CdfF(last)).CopyTo(pad);
        pad[..(x.Length - i)].CopyTo(y[i..]);
    }

    private static void Backward(ReadOnlySpan<double> g, ReadOnlySpan<double> x, Span<double> gx)
    {
        int i = 0;
        for (; i + 4 <= x.Length; i += 4)
            (Vector256.Create(g.Slice(i, 4)) * Derivative(Vector256.Create(x.Slice(i, 4)))).CopyTo(gx.Slice(i, 4));
        for (; i < x.Length; i++) gx[i] = g[i] * GeluOp.Derivative(x[i], 0.0, 0.0, 0.0);
    }

    private static void Backward(ReadOnlySpan<float> g, ReadOnlySpan<float> x, Span<float> gx)
    {
        int i = VectorWidth.Use512 ? Backward512(g, x, gx) : 0;
        for (; i + 8 <= x.Length; i += 8)
            (Vector256.Create(g.Slice(i, 8)) * Derivative(Vector256.Create(x.Slice(i, 8)))).CopyTo(gx.Slice(i, 8));
        if (i == x.Length) return;
        Span<float> pad = stackalloc float[8];
        x[i..].CopyTo(pad);
        var d = Derivative(Vector256.Create((ReadOnlySpan<float>)pad));
        d.CopyTo(pad);
        for (int j = i; j < x.Length; j++) gx[j] = g[j] * pad[j - i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Derivative(Vector256<float> x)
    {
        var ax = Vector256.Min(Vector256.Abs(x), Vector256.Create(20f));
        var hi = ax * ax;
        var lo = Vector256.FusedMultiplyAdd(ax, ax, -hi);
        var pdf = ExpSplit(hi * -0.5f, lo * -0.5f) * (float)InvSqrt2Pi;
        return Vector256.FusedMultiplyAdd(x, pdf, CdfF(x));
    }

    /// <summary>
    /// Φ(x) in float: erfc(|z|), z = x / sqrt 2, as t exp(-z² + P(t)) with t = 1 / (1 + |z| / 2) and the degree-9
    /// Chebyshev fit P of Press et al., whose relative error stays below 1.2e-7 for every z, so Φ keeps float
    /// accuracy in the negative tail. -z² = -x²/2 goes to the exponential as a float-exact part and its rounding
    /// error: a rounded z² near 80 alone would cost a few hundred ulps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> CdfF(Vector256<float> x)
    {
        // Beyond 20, exp(-x²/2) underflows anyway; the clamp keeps infinities out of the fma below.
        var ax = Vector256.Min(Vector256.Abs(x), Vector256.Create(20f));
        var hi = ax * ax;
        var lo = Vector256.FusedMultiplyAdd(ax, ax, -hi);
        var (axLo, axHi) = Vector256.Widen(ax);
        var (tLo, pLo) = TailFit(axLo);
        var (tHi, pHi) = TailFit(axHi);
        var t = Vector256.Narrow(tLo, tHi);
        var p = Vector256.Narrow(pLo, pHi);
        var lower = t * ExpSplit(hi * -0.5f, Vector256.FusedMultiplyAdd(lo, Vector256.Create(-0.5f), p)) * 0.5f; // Φ(-|x|)
        var cdf = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), Vector256<float>.One - lower, lower);
        // NaN lanes fail every comparison above; keep them NaN.
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), cdf, x);
    }

    /// <summary>t and P(t) in double: in float, P's alternating coefficients near 1.5 cost a few ulps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<double> T, Vector256<double> P) TailFit(Vector256<double> ax)
    {
        var t = Vector256<double>.One / Vector256.FusedMultiplyAdd(ax, Vector256.Create(Sqrt1_2 / 2), Vector256<double>.One);
        var p = Vector256.Create(0.17087277);
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(-0.82215223));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(1.48851587));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(-1.13520398));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(0.27886807));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(-0.18628806));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(0.09678418));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(0.37409196));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(1.00002368));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(-1.26551223));
        return (t, p);
    }

    /// <summary>
    /// exp(big + small) in float for big ≤ 0 exact and |small| a few units: big is reduced by n ln 2 in two parts
    /// (Cody and Waite) before small is added, so the rounding of big + small never reaches the result; then a
    /// degree-7 Taylor polynomial on |r| ≤ 0.35 (about 1 ulp) and 2^n through the exponent bits.
    /// Results below float's normal range flush to 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpSplit(Vector256<float> big, Vector256<float> small)
    {
        var n = Vector256.Round((big + small) * 1.44269504f);
        n = Vector256.Max(n, Vector256.Create(-127f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693145752f), big); // ln 2 with 16 bits: n ln2Hi exact
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-1.42860677e-6f), r) + small;
        var e = Vector256.Create(1f / 5040);
        e = Vector256.FusedMultiplyAdd(e, r, Vector256.Create(1f / 720));
        e = Vector256.FusedMultiplyAdd(e, r, Vector256.Create(1f / 120));
        e = Vector256.FusedMultiplyAdd(e, r, Vector256.Create(1f / 24));
        e = Vector256.FusedMultiplyAdd(e, r, Vector256.Create(1f / 6));
        e = Vector256.FusedMultiplyAdd(e, r, Vector256.Create(0.5f));
        e = Vector256.FusedMultiplyAdd(e, r, Vector256<float>.One);
        e = Vector256.FusedMultiplyAdd(e, r, Vector256<float>.One);
        var scale = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        // n = -127 means the result is below 2^-126: flush.
        return Vector256.ConditionalSelect(Vector256.Equals(n, Vector256.Create(-127f)), Vector256<float>.Zero, e * scale.AsSingle());
    }

    /// <summary>Φ(x) + x φ(x), the scalar <see cref="GeluOp.Derivative"/> lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Derivative(Vector256<double> x) =>
        Cdf(x) + x * (Vector256.Exp(Vector256.Create(-0.5) * x * x) * InvSqrt2Pi);

    /// <summary>Φ(x) = erfc(-x / sqrt 2) / 2, lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Cdf(Vector256<double> x)
    {
        var z = x * Sqrt1_2;
        var y = Vector256.Abs(z);
        var one = Vector256<double>.One;

        // |z| <= 0.46875: erfc(-z) = 1 + z R(z²).
        var zz = y * y;
        var num = (((C(A4) * zz + C(A0)) * zz + C(A1)) * zz + C(A2)) * zz + C(A3);
        var den = (((zz + C(B0)) * zz + C(B1)) * zz + C(B2)) * zz + C(B3);
        var small = Vector256.Create(0.5) + z * (num / den) + Vector256.Create(0.5);

        // Otherwise erfc(|z|) = exp(-z²) R(|z|) up to 4, exp(-z²) (1/sqrt(pi) - R(1/z²) / z²) / |z| beyond.
        var numMid = (((((((C(C8) * y + C(C0)) * y + C(C1)) * y + C(C2)) * y + C(C3)) * y + C(C4)) * y + C(C5)) * y + C(C6)) * y + C(C7);
        var denMid = (((((((y + C(D0)) * y + C(D1)) * y + C(D2)) * y + C(D3)) * y + C(D4)) * y + C(D5)) * y + C(D6)) * y + C(D7);
        var w = one / zz;
        var numTail = ((((C(P5) * w + C(P0)) * w + C(P1)) * w + C(P2)) * w + C(P3)) * w + C(P4);
        var denTail = ((((w + C(Q0)) * w + C(Q1)) * w + C(Q2)) * w + C(Q3)) * w + C(Q4);
        var tail = (Vector256.Create(OneOverSqrtPi) - w * numTail / denTail) / y;
        var rational = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(y, Vector256.Create(4.0)), numMid / denMid, tail);
        var hiSq = zz;
        var loSq = Vector256.FusedMultiplyAdd(y, y, -hiSq);
        var erfcAbs = Vector256.Exp(-hiSq) * (one - loSq) * rational;
        erfcAbs = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(y, Vector256.Create(26.543)), Vector256<double>.Zero, erfcAbs);
        var erfcMinusZ = Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<double>.Zero), Vector256.Create(2.0) - erfcAbs, erfcAbs);

        var result = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(y, Vector256.Create(0.46875)), small, erfcMinusZ);
        // NaN lanes fail every comparison above; keep them NaN.
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result * 0.5, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> C(double value) => Vector256.Create(value);
}
