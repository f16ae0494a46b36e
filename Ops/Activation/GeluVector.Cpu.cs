using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Engine.Ops.ErfCoefficients;

namespace Engine.Ops;

/// <summary>
/// The exact GELU forward and fused backward on contiguous spans. F64: four doubles at a time, the same three ranges
/// of Cody's erfc as <see cref="ErrorFunction"/>, all evaluated and blended (no branches); it agrees with the scalar
/// path to within the exponential's last bit. F32 (<c>GeluVectorF32.Cpu.cs</c>, and sixteen lanes at a time in
/// <c>GeluVector512.Cpu.cs</c> where AVX-512 runs, see <see cref="VectorWidth"/>: the same operations per lane, so the
/// same bits): in float throughout, with a Φ of float accuracy (within 4.3 ulps of the exact GELU, 1.3 for its
/// derivative; see <see cref="GeluF32"/>) and one exponential for both the forward's Φ and the derivative's φ.
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

    private static void Backward(ReadOnlySpan<double> g, ReadOnlySpan<double> x, Span<double> gx)
    {
        int i = 0;
        for (; i + 4 <= x.Length; i += 4)
            (Vector256.Create(g.Slice(i, 4)) * Derivative(Vector256.Create(x.Slice(i, 4)))).CopyTo(gx.Slice(i, 4));
        for (; i < x.Length; i++) gx[i] = g[i] * GeluOp.Derivative(x[i], 0.0, 0.0, 0.0);
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
