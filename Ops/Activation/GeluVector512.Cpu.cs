using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// The F32 GELU on <see cref="Vector512{T}"/>: the forward, derivative, pieces and exponential of
/// <c>GeluVectorF32.Cpu.cs</c> written for sixteen lanes, the same arithmetic in the same order (the forward with
/// three AVX-512 instructions in place of short sequences), so that every element gets the bits the 256-bit path
/// gives it (a test compares the two). Only called where <see cref="VectorWidth.Use512"/> holds.
/// </summary>
internal static partial class GeluVector
{
    /// <summary>Forward over whole blocks of sixteen; returns how many elements it wrote.</summary>
    private static int Forward512(ReadOnlySpan<float> x, Span<float> y)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int i = 0;
        for (; i + 16 <= x.Length; i += 16)
            Forward(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        return i;
    }

    /// <summary>Backward over whole blocks of sixteen; returns how many elements it wrote.</summary>
    private static int Backward512(ReadOnlySpan<float> g, ReadOnlySpan<float> x, Span<float> gx)
    {
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float or = ref MemoryMarshal.GetReference(gx);
        int i = 0;
        for (; i + 16 <= x.Length; i += 16)
            (Vector512.LoadUnsafe(ref gr, (nuint)i) * Derivative(Vector512.LoadUnsafe(ref xr, (nuint)i))).StoreUnsafe(ref or, (nuint)i);
        return i;
    }

    /// <summary>
    /// The forward of <c>GeluVectorF32.Cpu.cs</c> (documented there) on sixteen lanes, with three AVX-512 instructions
    /// that do in one what the 256-bit form does in two or three, for the same values: vrangeps takes u = min(|x|, 14.5)
    /// (NaN for a NaN x, which m then carries), vscalefps multiplies by 2ⁿ with one rounding, vfixupimmps gives m from
    /// x's class (x for +0, +1, positive values and +∞, -0 for -0 and negative values, x's NaN, the default NaN for -∞).
    /// Without AVX-512 (Vector512 in software) it takes the 256-bit form's steps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Forward(Vector512<float> x)
    {
        var clamp = Vector512.Create(GeluF32.ForwardClamp);
        // vrangeps control 0b1010: the smaller magnitude, sign cleared.
        var u = Avx512DQ.IsSupported ? Avx512DQ.Range(x, clamp, 0b1010) : Vector512.MinNative(Vector512.Abs(x), clamp);
        var hi = u * u;
        var lo = Avx512F.IsSupported ? Avx512F.FusedMultiplySubtract(u, u, hi) : Vector512.FusedMultiplyAdd(u, u, -hi);
        var shifted = Vector512.FusedMultiplyAdd(hi, Vector512.Create(GeluF32.MinusHalfLog2E), Vector512.Create(GeluF32.RoundShift));
        var n = shifted - Vector512.Create(GeluF32.RoundShift);
        var w = Vector512.FusedMultiplyAdd(n, Vector512.Create(GeluF32.TwoLn2), hi) + lo;
        var f = Vector512.FusedMultiplyAdd(Vector512.Create(GeluF32.F5), w, Vector512.Create(GeluF32.F4));
        f = Vector512.FusedMultiplyAdd(f, w, Vector512.Create(GeluF32.F3));
        f = Vector512.FusedMultiplyAdd(f, w, Vector512.Create(GeluF32.F2));
        f = Vector512.FusedMultiplyAdd(f, w, Vector512.Create(GeluF32.F1));
        f = Vector512.FusedMultiplyAdd(f, w, Vector512.Create(GeluF32.F0));
        var num = u + Vector512.Create(GeluF32.N3);
        num = Vector512.FusedMultiplyAdd(num, u, Vector512.Create(GeluF32.N2));
        num = Vector512.FusedMultiplyAdd(num, u, Vector512.Create(GeluF32.N1));
        num = Vector512.FusedMultiplyAdd(num, u, Vector512.Create(GeluF32.N0));
        var rem = Vector512.FusedMultiplyAdd(Vector512.Create(GeluF32.R3), u, Vector512.Create(GeluF32.R2));
        rem = Vector512.FusedMultiplyAdd(rem, u, Vector512.Create(GeluF32.R1));
        rem = Vector512.FusedMultiplyAdd(rem, u, Vector512.Create(GeluF32.R0));
        var v = f * num / Vector512.FusedMultiplyAdd(num, u, rem);
        if (Avx512F.IsSupported)
            return Avx512F.FusedMultiplyAddNegated(u, Avx512F.Scale(v, n), Avx512F.Fixup(x, x, Vector512.Create(GeluF32.FixupTable), 0));
        var ni = shifted.AsInt32() - Vector512.Create(GeluF32.RoundShiftBits);
        var half = Vector512.ShiftRightArithmetic(ni, 1);
        var t = v * (Vector512.ShiftLeft(half, 23) + Vector512.Create(GeluF32.OneBits)).AsSingle()
            * (Vector512.ShiftLeft(ni - half, 23) + Vector512.Create(GeluF32.OneBits)).AsSingle();
        var m = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * Vector512<float>.Zero);
        return Vector512.FusedMultiplyAdd(-u, t, m);
    }

    // The three below are those of GeluVectorF32.Cpu.cs (documented there) on sixteen lanes: keep them in step.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Derivative(Vector512<float> x)
    {
        var (u, e, lower, central) = Parts(x);
        var outer = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), Vector512<float>.One - lower, lower);
        var cdf = Vector512.ConditionalSelect(Vector512.LessThan(u, Vector512<float>.One), central, outer);
        return Vector512.FusedMultiplyAdd(x, e * GeluF32.InvSqrt2Pi, cdf);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> U, Vector512<float> E, Vector512<float> Lower, Vector512<float> Central) Parts(Vector512<float> x)
    {
        // A NaN x gives u = 13.5 (vminps returns its second operand) and reaches the result through x itself.
        var u = Vector512.MinNative(Vector512.Abs(x), Vector512.Create(GeluF32.Clamp));
        var hi = u * u;
        var lo = Vector512.FusedMultiplyAdd(u, u, -hi);
        var e = ExpMinusHalf(hi, lo);

        var c = Vector512.Create(GeluF32.C);
        var r = Vector512<float>.One / (u + c);
        var q = (u - c) * r;
        var h = Vector512.Create(GeluF32.H7);
        h = Vector512.FusedMultiplyAdd(h, q, Vector512.Create(GeluF32.H6));
        h = Vector512.FusedMultiplyAdd(h, q, Vector512.Create(GeluF32.H5));
        h = Vector512.FusedMultiplyAdd(h, q, Vector512.Create(GeluF32.H4));
        h = Vector512.FusedMultiplyAdd(h, q, Vector512.Create(GeluF32.H3));
        h = Vector512.FusedMultiplyAdd(h, q, Vector512.Create(GeluF32.H2));
        h = Vector512.FusedMultiplyAdd(h, q, Vector512.Create(GeluF32.H1));
        h = Vector512.FusedMultiplyAdd(h, q, Vector512.Create(GeluF32.H0));
        var lower = e * (r * h);

        var s = Vector512.Create(GeluF32.S5);
        s = Vector512.FusedMultiplyAdd(s, hi, Vector512.Create(GeluF32.S4));
        s = Vector512.FusedMultiplyAdd(s, hi, Vector512.Create(GeluF32.S3));
        s = Vector512.FusedMultiplyAdd(s, hi, Vector512.Create(GeluF32.S2));
        s = Vector512.FusedMultiplyAdd(s, hi, Vector512.Create(GeluF32.S1));
        s = Vector512.FusedMultiplyAdd(s, hi, Vector512.Create(GeluF32.S0));
        var central = Vector512.FusedMultiplyAdd(x, s, Vector512.Create(0.5f));
        return (u, e, lower, central);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpMinusHalf(Vector512<float> hi, Vector512<float> lo)
    {
        var shifted = Vector512.MaxNative(hi * (-0.5f * GeluF32.Log2E), Vector512.Create(-127f)) + Vector512.Create(GeluF32.RoundShift);
        var n = shifted - Vector512.Create(GeluF32.RoundShift);
        var w = Vector512.FusedMultiplyAdd(n, Vector512.Create(2 * GeluF32.Ln2Hi), hi);
        w = Vector512.FusedMultiplyAdd(n, Vector512.Create(2 * GeluF32.Ln2Lo), w) + lo;
        var p = Vector512.Create(GeluF32.E6 / 64);
        p = Vector512.FusedMultiplyAdd(p, w, Vector512.Create(-GeluF32.E5 / 32));
        p = Vector512.FusedMultiplyAdd(p, w, Vector512.Create(GeluF32.E4 / 16));
        p = Vector512.FusedMultiplyAdd(p, w, Vector512.Create(-GeluF32.E3 / 8));
        p = Vector512.FusedMultiplyAdd(p, w, Vector512.Create(GeluF32.E2 / 4));
        p = Vector512.FusedMultiplyAdd(p, w, Vector512.Create(-0.5f));
        p = Vector512.FusedMultiplyAdd(p, w, Vector512<float>.One);
        var scale = (shifted.AsInt32() + Vector512.Create(127)) << 23;
        return p * scale.AsSingle();
    }
}
