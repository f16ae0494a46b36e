namespace Engine.Ops;

/// <summary>
/// The constants of the F32 exact GELU (<c>GeluVectorF32.Cpu.cs</c>, <c>GeluVector512.Cpu.cs</c>) and the method
/// they serve. Everything runs in float; the scalar double path (<see cref="GeluOp"/> over <see cref="ErrorFunction"/>)
/// is the reference the tests compare with.
/// <list type="bullet">
/// <item>|x| &lt; 1: Φ(x) = 1/2 + x S(x²), S a degree-5 minimax polynomial of (Φ(√v) - 1/2) / √v on v ∈ [0, 1]
/// (relative error 7.1e-10). No cancellation: x S(x²) is at most a third of Φ.</item>
/// <item>|x| ≥ 1: Φ(-u) = φ(u) M(u) with u = |x| and M Mills' ratio, written e r H(q): e = exp(-u²/2), r = 1 / (u + c),
/// q = (u - c) r ∈ [-0.5, 0.64] and H a degree-7 minimax polynomial of M(u) (u + c) / √(2π) in q (relative error
/// 1.3e-8 on u ∈ [1, 13.5]; c = 3). Φ(x) is 1 - Φ(-u) for x &gt; 0, and the derivative Φ(x) + x φ(x) reuses e.
/// u stops at 13.5: e reaches float's smallest normal at u = 13.2 and has flushed to 0 by then.</item>
/// <item>exp(-u²/2) with u² split into its rounded value and the exact rounding error (one fused multiply-add):
/// the rounding of u² alone would cost up to 32 ulps in the tail.</item>
/// </list>
/// The forward uses one piece over the whole range instead, Φ(-u) = e r G(q) with G of degree 10 fitted on u ∈ [0, 13.5]
/// (relative error 9.2e-10): three fused multiply-adds more than H, but no S, no product x Φ and no blend: the 512-bit
/// loop (JIT output, .NET 10) went from 48 arithmetic vector instructions a vector (31 of them multiplies or fused
/// multiply-adds, which bound it on Zen 4) to 43 (27), and the forward from 2.77 to 2.45 ms at one thread on 4 M floats.
/// Near 0 the single piece costs a little accuracy (x Φ(x) = x - u Φ(-u) for x &gt; 0 and -u Φ(-u) for x &lt; 0, with
/// Φ(-u) ≈ 1/2 carrying its few roundings), and over the 36 million arguments of |x| ≤ 12.9 below the forward's worst
/// is 5.1 ulps against the two pieces' 4.9. The derivative, which sums Φ and x φ and is compared in ulps of
/// max(|value|, 1), keeps the two pieces (one piece gave it 1.3 ulps against 1.1).
/// Where Φ(-u) itself falls below float's normal range but x Φ(x) does not (|x| from 12.9 to 13.2) both forms lose a
/// few more bits: every 61st float through the public op gives 8.3 ulps there (one piece) and 9.1 (two pieces).
/// Against the double path over 40 million arguments (every 61st float of magnitude up to 14, both signs, and a
/// uniform grid of 4 million on [-14, 14]; a scalar model of the same operations): the forward within 5.1 ulps of
/// the exact value (where it is a normal float), the derivative within 1.2 ulps of max(|value|, 1) (it crosses zero
/// near x = -0.75). r = 1 / (u + c) is left with its two roundings: a Newton step on it (4.8 ulps) costs 10%. The coefficients
/// are this project's own fits, rounded to float: <c>tools/fits/gelu_f32.py</c> (Lawson's iteratively reweighted
/// least squares on Chebyshev nodes, mpmath references) prints them again with their errors.
/// </summary>
internal static class GeluF32
{
    public const float Clamp = 13.5f;
    public const float InvSqrt2Pi = 0.398942280f;

    /// <summary>c of r = 1 / (u + c) and q = (u - c) r.</summary>
    public const float C = 3f;

    /// <summary>H(q) ≈ M(u) (u + c) / √(2π), lowest degree first.</summary>
    public const float H0 = 0.7290837168693542f, H1 = -0.5093318819999695f, H2 = 0.23001675307750702f, H3 = -0.04726502299308777f,
        H4 = -0.01044424157589674f, H5 = 0.006982316263020039f, H6 = 0.0009090682142414153f, H7 = -0.0010202151024714112f;

    /// <summary>
    /// G(q) ≈ M(u) (u + c) / √(2π) over the whole range u ∈ [0, 13.5], lowest degree first: the forward's one piece
    /// (degree 10, relative error 9.2e-10), where the derivative keeps H and S.
    /// </summary>
    public const float G0 = 0.7290837168693542f, G1 = -0.509332001209259f, G2 = 0.23001770675182343f, G3 = -0.04726268723607063f,
        G4 = -0.01046255137771368f, G5 = 0.0069692665711045265f, G6 = 0.0010249123442918062f, G7 = -0.001032319269143045f,
        G8 = -0.00024486545589752495f, G9 = 0.00013092787412460893f, G10 = 5.431097451946698e-05f;

    /// <summary>S(v) ≈ (Φ(√v) - 1/2) / √v, lowest degree first (S0 ≈ 1 / √(2π)).</summary>
    public const float S0 = 0.3989422917366028f, S1 = -0.06649035960435867f, S2 = 0.009973322972655296f, S3 = -0.0011863299878314137f,
        S4 = 0.00011348638508934528f, S5 = -7.654209184693173e-06f;

    /// <summary>exp(r) ≈ 1 + r + r² (E2 + E3 r + ... + E6 r⁴) on |r| ≤ ln 2 / 2.</summary>
    public const float E2 = 0.4999999403953552f, E3 = 0.1666652113199234f, E4 = 0.04166838899254799f, E5 = 0.008368737064301968f,
        E6 = 0.0013814562698826194f;

    public const float Log2E = 1.44269504f;

    /// <summary>ln 2 in two parts: the first with 16 significant bits, so that n Ln2Hi is exact for |n| ≤ 127.</summary>
    public const float Ln2Hi = 0.693145752f, Ln2Lo = 1.42860677e-6f;

    /// <summary>1.5 · 2²³: adding it rounds a float of magnitude below 2²² to an integer, which its low bits then hold.</summary>
    public const float RoundShift = 12582912f;
}
