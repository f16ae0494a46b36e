namespace Engine.Ops;

/// <summary>
/// The constants of the F32 exact GELU (<c>GeluVectorF32.Cpu.cs</c>, <c>GeluVector512.Cpu.cs</c>) and the methods
/// they serve. Everything runs in float; the scalar double path (<see cref="GeluOp"/> over <see cref="ErrorFunction"/>)
/// is the reference the tests compare with.
/// <para>
/// The forward: x Φ(x) = m - u Φ(-u) with u = |x| (m = x for x &gt; 0, -0 for x &lt; 0), Φ(-u) = φ(u) M(u) with M
/// Mills' ratio, computed as 2ⁿ F(w) N(u) / (u N(u) + R(u)):
/// </para>
/// <list type="bullet">
/// <item>u² = hi + lo exactly (hi rounded, lo its error by a fused multiply-add), n = round(-hi log2(e) / 2) and
/// w = hi + n L + lo with L = 2 ln 2 rounded to float: hi + n L is exact (one fused multiply-add) and
/// exp(-u²/2) = 2ⁿ exp(-w/2) exp(-n (2 ln 2 - L) / 2). The last factor (up to 3e-7 from 1) is exp(κu²) within 1e-9,
/// κ = log2(e) (2 ln 2 - L) / 4, so the rational absorbs it instead of a second reduction step.</item>
/// <item>F(w) ≈ F0 exp(-w/2), degree 5 on |w| ≤ 0.6932 (relative error 9.2e-8; F(0) = F0 exactly, so that small u, where
/// w is near 0, keeps the rational's error alone). Degree 6 (3.1e-9) took one fused multiply-add more, 5% of the loop,
/// for 3.9 ulps instead of 5.0 with the forward's form before (below).</item>
/// <item>N / (u N + R) with N a monic quartic and R a cubic: a rational of degree (4, 5) whose denominator is tied to the
/// numerator. Where u is large N / D ≈ 1/u and N's rounding errors cancel in the quotient instead of adding to D's
/// (every Horner step of a polynomial in u with positive coefficients carries nearly its full rounding there): the
/// general (4, 5) rational, one operation more, gave up to 6.3 ulps, the tied one 3.9. F0 N / (u N + R) ≈ M(u) e^{κu²} / √(2π)
/// within 1.9e-8 on u ∈ [0, 13.5] with the float coefficients, and within 3e-8 on to the clamp at 14.5.</item>
/// <item>Where the result is below float's normal range (x from -13.2 down), v 2ⁿ is rounded once into the subnormals;
/// beyond the clamp u = 14.5, u Φ(-u) is below half the smallest subnormal and the result is x or -0.</item>
/// </list>
/// The forward takes u Φ(-u) = 2ⁿ f (u N / (u N + R)): u N is shared by the numerator and the denominator (u D rounded
/// once less than u times a separate D), the quotient waits on u alone (in parallel with the exponential), and u is in
/// the value before the scaling by 2ⁿ, so that a result below float's normal range is rounded once. With AVX-512 the
/// 512-bit loop takes 27 vector instructions a vector (JIT output, .NET 10: 17 multiplies or fused multiply-adds, one
/// division, 5 additions or subtractions, vrangeps for u, vscalefps for 2ⁿ, vmaxps for m and a vminps that watches for
/// -∞, whose NaN is written afterwards; vfixupimmps for m where the output overlaps the input), its 19 constants held in
/// registers; 7.5% less time than the form before it, 2ⁿ f N / (u N + R) times u in the last fused multiply-add (same
/// process, Zen 4, one thread). The 256-bit path does the same arithmetic with a minimum, compares, a blend and the
/// exponent bits, for the same bits.
/// Against the double path, over every 61st float of magnitude up to 20 (both signs) and the floats around every power
/// of two: within 4.3 ulps where the result is a normal float (4.21 found), also where Φ(-u) is subnormal but the
/// result is not (x from -13.16 to -12.93: 2.95); subnormal results within 1.9 steps of 2⁻¹⁴⁹ (the form before: 5.0,
/// 9.3 and 8.1, the product with u then rounded after Φ(-u)'s own rounding into the subnormals).
/// <para>
/// The derivative Φ(x) + x φ(x), compared in ulps of max(|value|, 1), takes the forward's pieces (one exponential and one
/// division for Φ and φ): φ(u) = 2ⁿ F(w) K with K = 1 / (F0 √(2π)), Q = Φ(-u) - u φ(u) = 2ⁿ (v - u K f), and the
/// derivative is Q for x ≤ 0 and 1 - Q for x &gt; 0 (one fused multiply-add s Q + m; vfixupimmps gives s and m from x's
/// class on AVX-512, compares and blends otherwise, for the same bits). The factor exp(-n (2 ln 2 - L) / 2) that the
/// rational absorbs is left out of φ: it moves u φ(u) by 1.9e-9 |n| of itself, under 1e-9 in all. ±∞ and NaN give NaN
/// (the double path's ∞ · 0). The 512-bit backward loop takes 29 arithmetic vector instructions a vector with the
/// multiply by the incoming gradient (JIT output, .NET 10), where the pieces before (a central polynomial for |x| &lt; 1,
/// e r H(q) with r = 1 / (u + 3) beyond, their own exponential) took 46. Against the double path over every 61st float
/// of magnitude up to 20: within 1.25 ulps of max(|value|, 1) (those pieces: 1.1); the worst is near x = 0⁺, where 1 - Q carries Φ(-u)'s own error. The coefficients are this
/// project's own fits, rounded to float: <c>tools/fits/gelu_f32.py</c> (and <c>--exp</c> for F alone) prints them again with
/// their errors.
/// </para>
/// </summary>
internal static class GeluF32
{
    /// <summary>
    /// The forward's constants: the clamp of u, -log2(e)/2 (which picks n), 2 ln 2 rounded to float,
    /// the exponential's polynomial (scaled by <see cref="F0"/>) and the rational's numerator and remainder.
    /// </summary>
    public const float ForwardClamp = 14.5f, MinusHalfLog2E = -0.72134752f, TwoLn2 = 1.38629436f;

    /// <summary>F(w) ≈ F0 exp(-w/2) on |w| ≤ 0.6932, degree 5, lowest degree first (relative error 9.2e-8).</summary>
    public const float F0 = 0.39894112944602966f, F1 = -0.19947050511837006f, F2 = 0.04986679181456566f, F3 = -0.008311767131090164f,
        F4 = 0.0010446792002767324f, F5 = -0.00010333815589547157f;

    /// <summary>N(u) = u⁴ + N3 u³ + N2 u² + N1 u + N0 and R(u) = R3 u³ + ... + R0, with F0 N / (u N + R) ≈ M(u) e^{κu²} / √(2π).</summary>
    public const float N0 = 102.7389907836914f, N1 = 94.09117889404297f, N2 = 40.66606521606445f, N3 = 9.373759269714355f;

    /// <summary>See <see cref="N0"/>.</summary>
    public const float R0 = 81.97361755371094f, R1 = 37.74025344848633f, R2 = 9.45406723022461f, R3 = 0.9962502121925354f;

    /// <summary>
    /// vfixupimmps's table for m (the forward in <c>GeluVector512.Cpu.cs</c>), a 4-bit answer for each class of x, from
    /// QNaN (lowest) to positive: x itself (1) for QNaN, ±0, +1, +∞ and positive values; x quieted (2) for SNaN; the default
    /// NaN (3) for -∞; -0 (7) for negative values.
    /// </summary>
    public const int FixupTable = 0x17131121;

    /// <summary>K = 1 / (F0 √(2π)), rounded to float: φ(u) ≈ 2ⁿ F(w) K (the derivative).</summary>
    public const float PdfScale = 1.0000028610229492f;

    /// <summary>
    /// vfixupimmps's tables for the derivative's s Q + m (<c>GeluVector512.Cpu.cs</c>), a 4-bit answer for each class of x
    /// from QNaN (lowest) to positive: s is -1 (9) for +1, +∞ and positive values, +1 (10) for the others; m is +1 (10) for
    /// +1 and positive values, +0 (8) for ±0 and negative values, x quieted (2) for a NaN and the default NaN (3) for ±∞.
    /// </summary>
    public const int DerivativeSignTable = unchecked((int)0x9A9A9AAA), DerivativeOffsetTable = unchecked((int)0xA833A822);

    /// <summary>1.5 · 2²³: adding it rounds a float of magnitude below 2²² to an integer, which its low bits then hold.</summary>
    public const float RoundShift = 12582912f;

    /// <summary>The bits of 1f (adding n &lt;&lt; 23 to them gives 2ⁿ's).</summary>
    public const int OneBits = 0x3F800000;
}
