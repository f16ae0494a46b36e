using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// exp(t) for the softmax rows of <see cref="SoftmaxRowF32"/>, where t = x − max is at most 0 (or NaN, or −∞): a
/// lighter exp than <see cref="ExpF32"/>'s, with the same operations on every lane of a 512-bit or a 256-bit vector,
/// so the two widths give the same bits. Within 1.5e-7 + 3e-9 |t| of exp in double, relative, on [−87.3, 0] (the
/// tests sweep it: about 2 ulps near 0 and 4 at −87, where <see cref="ExpF32"/> is within 1; the rounding of x − max has
/// already put up to 6e-8 |t| into t); below it, that plus the result's one rounding into the subnormals (half a step
/// of 2⁻¹⁴⁹), and 0 from t = −104 down.
/// </summary>
/// <remarks>
/// <para>
/// t = n·ln2 + r with n = round(t·log2(e)) and r = t − n·ln2 in one fused multiply-add with ln2 rounded to float: ln2's
/// own error (1.9e-9) times n puts 2.7e-9·|t| into r, where the rounding of x − max to float has already put up to
/// 6e-8·|t| into t itself (which is why <see cref="ExpF32"/>'s second reduction step buys nothing here). e^r on
/// |r| ≤ ln2/2 is a degree-5 polynomial with float coefficients (relative error 1.0e-7; fitted by iterated weighted least
/// squares on the relative error), and 2ⁿ is vscalefps (or two normal powers of two multiplied in, one rounding).
/// </para>
/// <para>
/// No largest clamp (t ≤ 0) and no NaN select: max(−104, t) is vmaxps with t as the second operand, which it returns when
/// t is a NaN, and a NaN goes through every step after. The row loops read the constants into registers once
/// (<see cref="Constants"/>, an array so that the JIT cannot fold them back into every use, and passed as arguments: a
/// struct of them was slower, its fields read from memory in the loop). Against
/// <see cref="ExpF32"/> (seven-term series, two-step reduction, both clamps and the select), the softmax forward over
/// rows of 1000 takes 0.70-0.74 of its time (same process, Zen 4, one thread).
/// </para>
/// </remarks>
internal static class SoftmaxExpF32
{
    private const float Log2E = 1.44269504088896341f, MinusLn2 = -0.693147180559945f, Shifter = 12582912f, Lowest = -104f;
    private const int ShifterBits = 0x4B400000, OneBits = 0x3F800000;

    /// <summary>e^r ≈ 1 + r (P1 + r (P2 + r (P3 + r (P4 + r P5)))) on |r| ≤ ln2/2 (relative error 1.0e-7 with these floats).</summary>
    private const float P1 = 0.9999997615814209f, P2 = 0.4999913275241852f, P3 = 0.16667532920837402f,
        P4 = 0.04189979285001755f, P5 = 0.008293463848531246f;

    /// <summary>The constants in the loops' order: −104, log2(e), the rounding shift, −ln2, P1 to P5.</summary>
    public static readonly float[] Constants = [Lowest, Log2E, Shifter, MinusLn2, P1, P2, P3, P4, P5];

    /// <summary>exp(t) on sixteen lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> t, Vector512<float> lowest, Vector512<float> log2e, Vector512<float> shifter,
        Vector512<float> minusLn2, Vector512<float> p1, Vector512<float> p2, Vector512<float> p3, Vector512<float> p4, Vector512<float> p5)
    {
        var tc = Avx512F.IsSupported ? Avx512F.Max(lowest, t) : Vector512.ConditionalSelect(Vector512.Equals(t, t), Vector512.MaxNative(t, lowest), t);
        var k = Vector512.FusedMultiplyAdd(tc, log2e, shifter);
        var n = k - shifter;
        var r = Vector512.FusedMultiplyAdd(n, minusLn2, tc);
        var p = Vector512.FusedMultiplyAdd(p5, r, p4);
        p = Vector512.FusedMultiplyAdd(p, r, p3);
        p = Vector512.FusedMultiplyAdd(p, r, p2);
        p = Vector512.FusedMultiplyAdd(p, r, p1);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        if (Avx512F.IsSupported) return Avx512F.Scale(p, n);
        var ni = k.AsInt32() - Vector512.Create(ShifterBits);
        var half = Vector512.ShiftRightArithmetic(ni, 1);
        return p * (Vector512.ShiftLeft(half, 23) + Vector512.Create(OneBits)).AsSingle()
            * (Vector512.ShiftLeft(ni - half, 23) + Vector512.Create(OneBits)).AsSingle();
    }

    /// <summary>exp(t) on eight lanes: the same operations, 2ⁿ as two normal powers of two (one rounding, as vscalefps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> t, Vector256<float> lowest, Vector256<float> log2e, Vector256<float> shifter,
        Vector256<float> minusLn2, Vector256<float> p1, Vector256<float> p2, Vector256<float> p3, Vector256<float> p4, Vector256<float> p5)
    {
        var tc = Avx.IsSupported ? Avx.Max(lowest, t) : Vector256.ConditionalSelect(Vector256.Equals(t, t), Vector256.MaxNative(t, lowest), t);
        var k = Vector256.FusedMultiplyAdd(tc, log2e, shifter);
        var n = k - shifter;
        var r = Vector256.FusedMultiplyAdd(n, minusLn2, tc);
        var p = Vector256.FusedMultiplyAdd(p5, r, p4);
        p = Vector256.FusedMultiplyAdd(p, r, p3);
        p = Vector256.FusedMultiplyAdd(p, r, p2);
        p = Vector256.FusedMultiplyAdd(p, r, p1);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var ni = k.AsInt32() - Vector256.Create(ShifterBits);
        var half = Vector256.ShiftRightArithmetic(ni, 1);
        return p * (Vector256.ShiftLeft(half, 23) + Vector256.Create(OneBits)).AsSingle()
            * (Vector256.ShiftLeft(ni - half, 23) + Vector256.Create(OneBits)).AsSingle();
    }

    /// <summary>exp(t) on eight lanes with the constants as written (for the few calls outside the row loops).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> t) => Exp(t, Vector256.Create(Lowest), Vector256.Create(Log2E), Vector256.Create(Shifter),
        Vector256.Create(MinusLn2), Vector256.Create(P1), Vector256.Create(P2), Vector256.Create(P3), Vector256.Create(P4), Vector256.Create(P5));

    /// <summary>exp(t) on sixteen lanes with the constants as written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> t) => Exp(t, Vector512.Create(Lowest), Vector512.Create(Log2E), Vector512.Create(Shifter),
        Vector512.Create(MinusLn2), Vector512.Create(P1), Vector512.Create(P2), Vector512.Create(P3), Vector512.Create(P4), Vector512.Create(P5));
}
