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
    /// x Φ(x) = m - u Φ(-u) with u Φ(-u) = 2ⁿ f (u N / (u N + R)) (the pieces below; the method and its error are
    /// <see cref="GeluF32"/>'s): m = x for x &gt; 0 and x · 0 otherwise, which keeps -0 a -0, makes every other negative x a
    /// -0 (the result's sign where u Φ(-u) underflows) and -∞ and NaN a NaN, as the double path does. u N is shared by the
    /// denominator and the numerator, and the quotient waits only on u, not on the exponential. The 512-bit form takes
    /// vrangeps, vscalefps and vmaxps or vfixupimmps for the minimum, the power of two and m; the values are the same.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Forward(Vector256<float> x)
    {
        var (u, n, f, num, rem) = Parts(x);
        var un = u * num;
        var m = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, x * Vector256<float>.Zero);
        return m - Scale(f * (un / (un + rem)), n);
    }

    /// <summary>
    /// Φ(x) + x φ(x) from the forward's pieces: with Q = Φ(-u) - u φ(u) = 2ⁿ (v - u K f), it is Q for x ≤ 0 and 1 - Q for
    /// x &gt; 0, written s Q + m (s = -1 and m = 1 for x &gt; 0, s = 1 and m = 0 otherwise; m = x · 0 + m makes ±∞ and NaN
    /// a NaN, as the double path's ∞ · 0). φ(u) = 2ⁿ F(w) K with K = 1 / (F0 √(2π)) rounded to float; the factor
    /// exp(-n (2 ln 2 - L) / 2) the forward's rational absorbs is left out here: it moves u φ(u) by 1.9e-9 |n| of
    /// itself, under 1e-9 in all.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Derivative(Vector256<float> x)
    {
        var (u, n, f, v) = Pieces(x);
        var positive = Vector256.GreaterThan(x, Vector256<float>.Zero);
        var s = Vector256.ConditionalSelect(positive, Vector256.Create(-1f), Vector256<float>.One);
        var m = Vector256.ConditionalSelect(positive, Vector256<float>.One, Vector256<float>.Zero) + x * Vector256<float>.Zero;
        return Vector256.FusedMultiplyAdd(s, Scale(Vector256.FusedMultiplyAdd(-(u * GeluF32.PdfScale), f, v), n), m);
    }

    /// <summary>
    /// The pieces the forward and the derivative share, lane by lane: u = min(|x|, 14.5), n (a float) and w with
    /// exp(-u²/2) ≈ 2ⁿ F(w) / F0, f = F(w), and the rational's N(u) and R(u) (<see cref="GeluF32"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> U, Vector256<float> N, Vector256<float> F, Vector256<float> Num, Vector256<float> Rem) Parts(Vector256<float> x)
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
        return (u, n, f, num, rem);
    }

    /// <summary>The derivative's pieces: u, n, f and v = f N / (u N + R), so that Φ(-u) = 2ⁿ v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> U, Vector256<float> N, Vector256<float> F, Vector256<float> V) Pieces(Vector256<float> x)
    {
        var (u, n, f, num, rem) = Parts(x);
        return (u, n, f, f * num / Vector256.FusedMultiplyAdd(num, u, rem));
    }

    /// <summary>
    /// v 2ⁿ rounded once, as vscalefps rounds it: 2ⁿ as two powers of two, each a normal float (n ≥ -152), so that only the
    /// second product can round (into the subnormals).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<float> v, Vector256<float> n)
    {
        var ni = Vector256.ConvertToInt32(n);
        var half = Vector256.ShiftRightArithmetic(ni, 1);
        return v * (Vector256.ShiftLeft(half, 23) + Vector256.Create(GeluF32.OneBits)).AsSingle()
            * (Vector256.ShiftLeft(ni - half, 23) + Vector256.Create(GeluF32.OneBits)).AsSingle();
    }
}
