using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// The F32 GELU on <see cref="Vector256{T}"/>, eight floats at a time in float (the methods and their errors are
/// <see cref="GeluF32"/>'s). Where AVX-512 runs, <c>GeluVector512.Cpu.cs</c> takes sixteen at a time first with the
/// same arithmetic per lane in the same order, so the same bits, and leaves the last few to these loops.
/// </summary>
internal static partial class GeluVector
{
    private static void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int i = VectorWidth.Use512 ? Forward512(x, y) : 0;
        for (; i + 8 <= x.Length; i += 8)
            Forward(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i == x.Length) return;
        // The last few through the same lanes (padded), so that an element's value never depends on where a range ends.
        Span<float> pad = stackalloc float[8];
        x[i..].CopyTo(pad);
        Forward(Vector256.Create((ReadOnlySpan<float>)pad)).CopyTo(pad);
        pad[..(x.Length - i)].CopyTo(y[i..]);
    }

    private static void Backward(ReadOnlySpan<float> g, ReadOnlySpan<float> x, Span<float> gx)
    {
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float or = ref MemoryMarshal.GetReference(gx);
        int i = VectorWidth.Use512 ? Backward512(g, x, gx) : 0;
        for (; i + 8 <= x.Length; i += 8)
            (Vector256.LoadUnsafe(ref gr, (nuint)i) * Derivative(Vector256.LoadUnsafe(ref xr, (nuint)i))).StoreUnsafe(ref or, (nuint)i);
        if (i == x.Length) return;
        Span<float> pad = stackalloc float[8];
        x[i..].CopyTo(pad);
        Derivative(Vector256.Create((ReadOnlySpan<float>)pad)).CopyTo(pad);
        for (int j = i; j < x.Length; j++) gx[j] = g[j] * pad[j - i];
    }

    /// <summary>
    /// x Φ(x) = m - u Φ(-u) with Φ(-u) = 2ⁿ F(w) N / (u N + R) (the method and its error are <see cref="GeluF32"/>'s):
    /// m = x for x &gt; 0 and x · 0 otherwise, which keeps -0 a -0, makes every other negative x a -0 (the result's sign
    /// where u Φ(-u) underflows) and -∞ and NaN a NaN, as the double path does. The 512-bit form takes vrangeps,
    /// vscalefps and vfixupimmps for the minimum, the power of two and m; the values are the same.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Forward(Vector256<float> x)
    {
        // A NaN x gives u = 14.5 (vminps returns its second operand) and reaches the result through m.
        var u = Vector256.MinNative(Vector256.Abs(x), Vector256.Create(GeluF32.ForwardClamp));
        var hi = u * u;
        var lo = Vector256.FusedMultiplyAdd(u, u, -hi);
        var shifted = Vector256.FusedMultiplyAdd(hi, Vector256.Create(GeluF32.MinusHalfLog2E), Vector256.Create(GeluF32.RoundShift));
        var n = shifted - Vector256.Create(GeluF32.RoundShift);
        var w = Vector256.FusedMultiplyAdd(n, Vector256.Create(GeluF32.TwoLn2), hi) + lo;
        var f = Vector256.FusedMultiplyAdd(Vector256.Create(GeluF32.F5), w, Vector256.Create(GeluF32.F4));
        f = Vector256.FusedMultiplyAdd(f, w, Vector256.Create(GeluF32.F3));
        f = Vector256.FusedMultiplyAdd(f, w, Vector256.Create(GeluF32.F2));
        f = Vector256.FusedMultiplyAdd(f, w, Vector256.Create(GeluF32.F1));
        f = Vector256.FusedMultiplyAdd(f, w, Vector256.Create(GeluF32.F0));
        var num = u + Vector256.Create(GeluF32.N3);
        num = Vector256.FusedMultiplyAdd(num, u, Vector256.Create(GeluF32.N2));
        num = Vector256.FusedMultiplyAdd(num, u, Vector256.Create(GeluF32.N1));
        num = Vector256.FusedMultiplyAdd(num, u, Vector256.Create(GeluF32.N0));
        var rem = Vector256.FusedMultiplyAdd(Vector256.Create(GeluF32.R3), u, Vector256.Create(GeluF32.R2));
        rem = Vector256.FusedMultiplyAdd(rem, u, Vector256.Create(GeluF32.R1));
        rem = Vector256.FusedMultiplyAdd(rem, u, Vector256.Create(GeluF32.R0));
        var v = f * num / Vector256.FusedMultiplyAdd(num, u, rem);
        // 2ⁿ as two powers of two, each a normal float (n ≥ -152), so that v 2ⁿ is rounded once, as vscalefps rounds it.
        var ni = shifted.AsInt32() - Vector256.Create(GeluF32.RoundShiftBits);
        var half = Vector256.ShiftRightArithmetic(ni, 1);
        var t = v * (Vector256.ShiftLeft(half, 23) + Vector256.Create(GeluF32.OneBits)).AsSingle()
            * (Vector256.ShiftLeft(ni - half, 23) + Vector256.Create(GeluF32.OneBits)).AsSingle();
        var m = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, x * Vector256<float>.Zero);
        return Vector256.FusedMultiplyAdd(-u, t, m);
    }

    /// <summary>Φ(x) + x φ(x), with one exp(-x²/2) for both.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Derivative(Vector256<float> x)
    {
        var (u, e, lower, central) = Parts(x);
        var outer = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), Vector256<float>.One - lower, lower);
        var cdf = Vector256.ConditionalSelect(Vector256.LessThan(u, Vector256<float>.One), central, outer);
        return Vector256.FusedMultiplyAdd(x, e * GeluF32.InvSqrt2Pi, cdf);
    }

    /// <summary>
    /// The pieces of <see cref="GeluF32"/>, lane by lane: u = min(|x|, 13.5), e = exp(-u²/2), lower = Φ(-u) = e r H(q)
    /// (for u ≥ 1) and central = Φ(x) = 1/2 + x S(x²) (for u &lt; 1). Every lane computes all of them and the callers
    /// blend: no branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> U, Vector256<float> E, Vector256<float> Lower, Vector256<float> Central) Parts(Vector256<float> x)
    {
        // A NaN x gives u = 13.5 (vminps returns its second operand) and reaches the result through x itself.
        var u = Vector256.MinNative(Vector256.Abs(x), Vector256.Create(GeluF32.Clamp));
        var hi = u * u;
        var lo = Vector256.FusedMultiplyAdd(u, u, -hi);
        var e = ExpMinusHalf(hi, lo);

        var c = Vector256.Create(GeluF32.C);
        var r = Vector256<float>.One / (u + c);
        var q = (u - c) * r;
        var h = Vector256.Create(GeluF32.H7);
        h = Vector256.FusedMultiplyAdd(h, q, Vector256.Create(GeluF32.H6));
        h = Vector256.FusedMultiplyAdd(h, q, Vector256.Create(GeluF32.H5));
        h = Vector256.FusedMultiplyAdd(h, q, Vector256.Create(GeluF32.H4));
        h = Vector256.FusedMultiplyAdd(h, q, Vector256.Create(GeluF32.H3));
        h = Vector256.FusedMultiplyAdd(h, q, Vector256.Create(GeluF32.H2));
        h = Vector256.FusedMultiplyAdd(h, q, Vector256.Create(GeluF32.H1));
        h = Vector256.FusedMultiplyAdd(h, q, Vector256.Create(GeluF32.H0));
        var lower = e * (r * h);

        var s = Vector256.Create(GeluF32.S5);
        s = Vector256.FusedMultiplyAdd(s, hi, Vector256.Create(GeluF32.S4));
        s = Vector256.FusedMultiplyAdd(s, hi, Vector256.Create(GeluF32.S3));
        s = Vector256.FusedMultiplyAdd(s, hi, Vector256.Create(GeluF32.S2));
        s = Vector256.FusedMultiplyAdd(s, hi, Vector256.Create(GeluF32.S1));
        s = Vector256.FusedMultiplyAdd(s, hi, Vector256.Create(GeluF32.S0));
        var central = Vector256.FusedMultiplyAdd(x, s, Vector256.Create(0.5f));
        return (u, e, lower, central);
    }

    /// <summary>
    /// exp(-(hi + lo) / 2) = exp(-u²/2), hi = u² rounded (below 256) and lo its rounding error: n = round(-hi / (2 ln 2))
    /// by adding 1.5 · 2²³ (the sum's low bits then hold n); w = hi + 2 n ln 2 with ln 2 in two parts (Cody and Waite;
    /// exact), then + lo, so that the rounding of u² never reaches the result; exp(-w/2) by the degree-6 minimax
    /// polynomial of exp on |r| ≤ 0.3467 (relative error 3.1e-9), its coefficients scaled by powers of -1/2 (exactly);
    /// 2^n through the exponent bits. n stays at -127 or above; at -127 the exponent field n + 127 is 0 and the scale
    /// a zero: results below float's normal range flush to 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpMinusHalf(Vector256<float> hi, Vector256<float> lo)
    {
        var shifted = Vector256.MaxNative(hi * (-0.5f * GeluF32.Log2E), Vector256.Create(-127f)) + Vector256.Create(GeluF32.RoundShift);
        var n = shifted - Vector256.Create(GeluF32.RoundShift);
        var w = Vector256.FusedMultiplyAdd(n, Vector256.Create(2 * GeluF32.Ln2Hi), hi);
        w = Vector256.FusedMultiplyAdd(n, Vector256.Create(2 * GeluF32.Ln2Lo), w) + lo;
        var p = Vector256.Create(GeluF32.E6 / 64);
        p = Vector256.FusedMultiplyAdd(p, w, Vector256.Create(-GeluF32.E5 / 32));
        p = Vector256.FusedMultiplyAdd(p, w, Vector256.Create(GeluF32.E4 / 16));
        p = Vector256.FusedMultiplyAdd(p, w, Vector256.Create(-GeluF32.E3 / 8));
        p = Vector256.FusedMultiplyAdd(p, w, Vector256.Create(GeluF32.E2 / 4));
        p = Vector256.FusedMultiplyAdd(p, w, Vector256.Create(-0.5f));
        p = Vector256.FusedMultiplyAdd(p, w, Vector256<float>.One);
        var scale = (shifted.AsInt32() + Vector256.Create(127)) << 23;
        return p * scale.AsSingle();
    }
}
