using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// The F32 GELU on <see cref="Vector512{T}"/>: the forward, derivative, pieces and scaling of
/// <c>GeluVectorF32.Cpu.cs</c> written for sixteen lanes, the same arithmetic in the same order (with AVX-512
/// instructions in place of short sequences: vrangeps, vscalefps, vfixupimmps), so that every element gets the bits the 256-bit path
/// gives it (a test compares the two). Only called where <see cref="VectorWidth.Use512"/> holds.
/// </summary>
internal static partial class GeluVector
{
    /// <summary>
    /// Forward over whole blocks of sixteen; returns how many elements it wrote. With AVX-512 and separate input and
    /// output, m is max(-0, x) (vmaxps returns x for ±0 and NaN) instead of vfixupimmps: 2-3% less time in the loop (same
    /// process, Zen 4), the same values except for x = -∞, which max makes a -0 instead of a NaN. The loop keeps the
    /// smallest x (vminps keeps the running minimum where x is a NaN) and, where it is -∞, writes those elements' NaN
    /// afterwards: the same bits as the other loops (tested).
    /// <para>
    /// This loop spells <see cref="Parts(Vector512{float})"/> out with its constants read once into registers (from
    /// <see cref="ForwardConstants"/>, which the JIT cannot fold): written as constants, each of the 19 is a broadcast
    /// operand from memory in every iteration, and the loop took 3% longer (same process, Zen 4). Same operations in
    /// the same order as <see cref="Forward(Vector512{float})"/>, so the same bits.
    /// </para>
    /// </summary>
    private static int Forward512(ReadOnlySpan<float> x, Span<float> y)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (!Avx512F.IsSupported || !Avx512DQ.IsSupported || x.Overlaps(y))
        {
            for (; i + 16 <= x.Length; i += 16)
                Forward(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            return i;
        }
        float[] c = ForwardConstants;
        Vector512<float> clamp = Vector512.Create(c[0]), minusHalfLog2E = Vector512.Create(c[1]), roundShift = Vector512.Create(c[2]),
            twoLn2 = Vector512.Create(c[3]), f0 = Vector512.Create(c[4]), f1 = Vector512.Create(c[5]), f2 = Vector512.Create(c[6]),
            f3 = Vector512.Create(c[7]), f4 = Vector512.Create(c[8]), f5 = Vector512.Create(c[9]), n0 = Vector512.Create(c[10]),
            n1 = Vector512.Create(c[11]), n2 = Vector512.Create(c[12]), n3 = Vector512.Create(c[13]), r0 = Vector512.Create(c[14]),
            r1 = Vector512.Create(c[15]), r2 = Vector512.Create(c[16]), r3 = Vector512.Create(c[17]), minusZero = Vector512.Create(c[18]);
        var low = Vector512.Create(float.PositiveInfinity);
        for (; i + 16 <= x.Length; i += 16)
        {
            var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
            low = Vector512.MinNative(v, low);
            var u = Avx512DQ.Range(v, clamp, 0b1010);
            var hi = u * u;
            var lo = Avx512F.FusedMultiplySubtract(u, u, hi);
            var n = Vector512.FusedMultiplyAdd(hi, minusHalfLog2E, roundShift) - roundShift;
            var w = Vector512.FusedMultiplyAdd(n, twoLn2, hi) + lo;
            var f = Vector512.FusedMultiplyAdd(f5, w, f4);
            f = Vector512.FusedMultiplyAdd(f, w, f3);
            f = Vector512.FusedMultiplyAdd(f, w, f2);
            f = Vector512.FusedMultiplyAdd(f, w, f1);
            f = Vector512.FusedMultiplyAdd(f, w, f0);
            var num = u + n3;
            num = Vector512.FusedMultiplyAdd(num, u, n2);
            num = Vector512.FusedMultiplyAdd(num, u, n1);
            num = Vector512.FusedMultiplyAdd(num, u, n0);
            var rem = Vector512.FusedMultiplyAdd(r3, u, r2);
            rem = Vector512.FusedMultiplyAdd(rem, u, r1);
            rem = Vector512.FusedMultiplyAdd(rem, u, r0);
            var un = u * num;
            (Avx512F.Max(minusZero, v) - Avx512F.Scale(f * (un / (un + rem)), n)).StoreUnsafe(ref yr, (nuint)i);
        }
        if (Vector512.EqualsAny(low, Vector512.Create(float.NegativeInfinity)))
            for (int j = 0; j < i; j++)
                if (float.IsNegativeInfinity(x[j])) y[j] = float.NaN;
        return i;
    }

    /// <summary>
    /// <see cref="Forward512"/>'s constants in <see cref="Parts(Vector512{float})"/>'s order: the clamp, -log2(e)/2, the rounding shift, 2 ln 2,
    /// F0 to F5, N0 to N3, R0 to R3 and -0. An array, so that the JIT loads them instead of folding them into every use.
    /// </summary>
    private static readonly float[] ForwardConstants =
    [
        GeluF32.ForwardClamp, GeluF32.MinusHalfLog2E, GeluF32.RoundShift, GeluF32.TwoLn2,
        GeluF32.F0, GeluF32.F1, GeluF32.F2, GeluF32.F3, GeluF32.F4, GeluF32.F5,
        GeluF32.N0, GeluF32.N1, GeluF32.N2, GeluF32.N3, GeluF32.R0, GeluF32.R1, GeluF32.R2, GeluF32.R3, -0f,
    ];

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
        var (u, n, f, num, rem) = Parts(x);
        var un = u * num;
        var t = f * (un / (un + rem));
        if (Avx512F.IsSupported)
            return Avx512F.Fixup(x, x, Vector512.Create(GeluF32.FixupTable), 0) - Avx512F.Scale(t, n);
        var m = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * Vector512<float>.Zero);
        return m - Scale(t, n);
    }

    /// <summary>
    /// The derivative of <c>GeluVectorF32.Cpu.cs</c> (documented there) on sixteen lanes: Q = 2ⁿ (v - u K f), then
    /// 1 - Q for x &gt; 0 and Q otherwise as one fused multiply-add s Q + m, with s and m from x's class by vfixupimmps
    /// (m a NaN for ±∞ and NaN).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Derivative(Vector512<float> x)
    {
        var (u, n, f, v) = Pieces(x);
        var a = u * GeluF32.PdfScale;
        if (Avx512F.IsSupported)
        {
            var q = Avx512F.Scale(Avx512F.FusedMultiplyAddNegated(a, f, v), n);
            var sign = Avx512F.Fixup(x, x, Vector512.Create(GeluF32.DerivativeSignTable), 0);
            var offset = Avx512F.Fixup(x, x, Vector512.Create(GeluF32.DerivativeOffsetTable), 0);
            return Vector512.FusedMultiplyAdd(sign, q, offset);
        }
        var positive = Vector512.GreaterThan(x, Vector512<float>.Zero);
        var s = Vector512.ConditionalSelect(positive, Vector512.Create(-1f), Vector512<float>.One);
        var m = Vector512.ConditionalSelect(positive, Vector512<float>.One, Vector512<float>.Zero) + x * Vector512<float>.Zero;
        return Vector512.FusedMultiplyAdd(s, Scale(Vector512.FusedMultiplyAdd(-a, f, v), n), m);
    }

    /// <summary>
    /// The pieces the forward and the derivative share (<c>GeluVectorF32.Cpu.cs</c> documents them): u, n (a float),
    /// f = F(w) and the rational's N(u) and R(u).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> U, Vector512<float> N, Vector512<float> F, Vector512<float> Num, Vector512<float> Rem) Parts(Vector512<float> x)
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
        return (u, n, f, num, rem);
    }

    /// <summary>The derivative's pieces: u, n, f and v = f N / (u N + R), so that Φ(-u) = 2ⁿ v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> U, Vector512<float> N, Vector512<float> F, Vector512<float> V) Pieces(Vector512<float> x)
    {
        var (u, n, f, num, rem) = Parts(x);
        return (u, n, f, f * num / Vector512.FusedMultiplyAdd(num, u, rem));
    }

    /// <summary>v 2ⁿ rounded once, as vscalefps rounds it, from two powers of two that are each a normal float (n ≥ -152).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scale(Vector512<float> v, Vector512<float> n)
    {
        var ni = Vector512.ConvertToInt32(n);
        var half = Vector512.ShiftRightArithmetic(ni, 1);
        return v * (Vector512.ShiftLeft(half, 23) + Vector512.Create(GeluF32.OneBits)).AsSingle()
            * (Vector512.ShiftLeft(ni - half, 23) + Vector512.Create(GeluF32.OneBits)).AsSingle();
    }
}
