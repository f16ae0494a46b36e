using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// exp for float on 512-bit vectors, 256-bit vectors and one value at a time, with the same operations on every lane
/// in the same order, so the three give the same bits. Error about 1 ulp against the exact value (the tests sweep it
/// against double), subnormal results included; exp(−inf) = 0, exp(+inf) = +inf, exp(NaN) = NaN (the input itself).
/// </summary>
/// <remarks>
/// x = n·ln2 + r with n an integer and |r| ≤ ln2/2: n is x·log2(e) rounded to nearest by adding 1.5·2^23 (the
/// integer then sits in the low mantissa bits), r is reduced with ln2 in two parts so that it stays exact to float
/// precision for n up to 150, and e^r is its Taylor series to the seventh power (truncation error below 1e-8
/// relative). 2^n is applied as two powers of two, 2^(n/2) and 2^(n − n/2), each a normal float, so a result in
/// the subnormal range is rounded once, at the last multiplication. x is first clamped to [−104, 88.8]: below
/// −104 the result rounds to 0 and above 88.8 it overflows to +inf, which the clamped value reproduces.
/// </remarks>
internal static class ExpF32
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693145751953125f;            // ln 2 to 16 bits: n·Ln2Hi is exact for |n| < 2^8
    private const float Ln2Lo = 1.42860682030941723212e-6f;    // ln 2 − Ln2Hi
    private const float Shifter = 12582912f;                   // 1.5·2^23
    private const int ShifterBits = 0x4B400000;
    private const int OneBits = 0x3F800000;                    // 1f: adding n << 23 gives 2^n
    private const float Lowest = -104f, Highest = 88.8f;
    private const float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var xc = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Lowest)), Vector512.Create(Highest));
        var k = Vector512.FusedMultiplyAdd(xc, Vector512.Create(Log2E), Vector512.Create(Shifter));
        var n = k - Vector512.Create(Shifter);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(C7), r, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        // vscalefps rounds p·2^n once, as the two multiplications below do: the same bits in one instruction.
        if (Avx512F.IsSupported) return Vector512.ConditionalSelect(Vector512.Equals(x, x), Avx512F.Scale(p, n), x);
        var ni = k.AsInt32() - Vector512.Create(ShifterBits);
        var half = Vector512.ShiftRightArithmetic(ni, 1);
        var s1 = (Vector512.ShiftLeft(half, 23) + Vector512.Create(OneBits)).AsSingle();
        var s2 = (Vector512.ShiftLeft(ni - half, 23) + Vector512.Create(OneBits)).AsSingle();
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), p * s1 * s2, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(Lowest)), Vector256.Create(Highest));
        var k = Vector256.FusedMultiplyAdd(xc, Vector256.Create(Log2E), Vector256.Create(Shifter));
        var n = k - Vector256.Create(Shifter);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(C7), r, Vector256.Create(C6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var ni = k.AsInt32() - Vector256.Create(ShifterBits);
        var half = Vector256.ShiftRightArithmetic(ni, 1);
        var s1 = (Vector256.ShiftLeft(half, 23) + Vector256.Create(OneBits)).AsSingle();
        var s2 = (Vector256.ShiftLeft(ni - half, 23) + Vector256.Create(OneBits)).AsSingle();
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), p * s1 * s2, x);
    }

    public static float Exp(float x)
    {
        if (float.IsNaN(x)) return x;
        float xc = Math.Min(Math.Max(x, Lowest), Highest);
        float k = MathF.FusedMultiplyAdd(xc, Log2E, Shifter);
        float n = k - Shifter;
        float r = MathF.FusedMultiplyAdd(n, -Ln2Hi, xc);
        r = MathF.FusedMultiplyAdd(n, -Ln2Lo, r);
        float p = MathF.FusedMultiplyAdd(C7, r, C6);
        p = MathF.FusedMultiplyAdd(p, r, C5);
        p = MathF.FusedMultiplyAdd(p, r, C4);
        p = MathF.FusedMultiplyAdd(p, r, C3);
        p = MathF.FusedMultiplyAdd(p, r, C2);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        int ni = BitConverter.SingleToInt32Bits(k) - ShifterBits;
        int half = ni >> 1;
        float s1 = BitConverter.Int32BitsToSingle((half << 23) + OneBits);
        float s2 = BitConverter.Int32BitsToSingle(((ni - half) << 23) + OneBits);
        return p * s1 * s2;
    }
}
