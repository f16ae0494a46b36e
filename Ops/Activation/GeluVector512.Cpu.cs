using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// The F32 GELU on <see cref="Vector512{T}"/>: <c>CdfF</c>, <c>TailFit</c>, <c>ExpSplit</c> and the derivative of
/// <c>GeluVector.Cpu.cs</c> written for sixteen lanes, operation for operation, so that every element gets the bits
/// the 256-bit path gives it (a test compares the two). Only called where <see cref="VectorWidth.Use512"/> holds.
/// </summary>
internal static partial class GeluVector
{
    /// <summary>Forward over whole blocks of sixteen; returns how many elements it wrote.</summary>
    private static int Forward512(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        for (; i + 16 <= x.Length; i += 16)
        {
            var v = Vector512.Create(x.Slice(i, 16));
            (v * CdfF(v)).CopyTo(y.Slice(i, 16));
        }
        return i;
    }

    /// <summary>Backward over whole blocks of sixteen; returns how many elements it wrote.</summary>
    private static int Backward512(ReadOnlySpan<float> g, ReadOnlySpan<float> x, Span<float> gx)
    {
        int i = 0;
        for (; i + 16 <= x.Length; i += 16)
            (Vector512.Create(g.Slice(i, 16)) * Derivative(Vector512.Create(x.Slice(i, 16)))).CopyTo(gx.Slice(i, 16));
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Derivative(Vector512<float> x)
    {
        var ax = Vector512.Min(Vector512.Abs(x), Vector512.Create(20f));
        var hi = ax * ax;
        var lo = Vector512.FusedMultiplyAdd(ax, ax, -hi);
        var pdf = ExpSplit(hi * -0.5f, lo * -0.5f) * (float)InvSqrt2Pi;
        return Vector512.FusedMultiplyAdd(x, pdf, CdfF(x));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> CdfF(Vector512<float> x)
    {
        var ax = Vector512.Min(Vector512.Abs(x), Vector512.Create(20f));
        var hi = ax * ax;
        var lo = Vector512.FusedMultiplyAdd(ax, ax, -hi);
        var (axLo, axHi) = Vector512.Widen(ax);
        var (tLo, pLo) = TailFit(axLo);
        var (tHi, pHi) = TailFit(axHi);
        var t = Vector512.Narrow(tLo, tHi);
        var p = Vector512.Narrow(pLo, pHi);
        var lower = t * ExpSplit(hi * -0.5f, Vector512.FusedMultiplyAdd(lo, Vector512.Create(-0.5f), p)) * 0.5f;
        var cdf = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), Vector512<float>.One - lower, lower);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), cdf, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<double> T, Vector512<double> P) TailFit(Vector512<double> ax)
    {
        var t = Vector512<double>.One / Vector512.FusedMultiplyAdd(ax, Vector512.Create(Sqrt1_2 / 2), Vector512<double>.One);
        var p = Vector512.Create(0.17087277);
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-0.82215223));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(1.48851587));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-1.13520398));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(0.27886807));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-0.18628806));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(0.09678418));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(0.37409196));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(1.00002368));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-1.26551223));
        return (t, p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpSplit(Vector512<float> big, Vector512<float> small)
    {
        var n = Vector512.Round((big + small) * 1.44269504f);
        n = Vector512.Max(n, Vector512.Create(-127f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693145752f), big);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.42860677e-6f), r) + small;
        var e = Vector512.Create(1f / 5040);
        e = Vector512.FusedMultiplyAdd(e, r, Vector512.Create(1f / 720));
        e = Vector512.FusedMultiplyAdd(e, r, Vector512.Create(1f / 120));
        e = Vector512.FusedMultiplyAdd(e, r, Vector512.Create(1f / 24));
        e = Vector512.FusedMultiplyAdd(e, r, Vector512.Create(1f / 6));
        e = Vector512.FusedMultiplyAdd(e, r, Vector512.Create(0.5f));
        e = Vector512.FusedMultiplyAdd(e, r, Vector512<float>.One);
        e = Vector512.FusedMultiplyAdd(e, r, Vector512<float>.One);
        var scale = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        return Vector512.ConditionalSelect(Vector512.Equals(n, Vector512.Create(-127f)), Vector512<float>.Zero, e * scale.AsSingle());
    }
}
