using System.Runtime.CompilerServices;

namespace Engine.Randomness;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a counter-based
/// generator. Block <c>i</c> of the stream for a key is a pure function of (key, i), so any element can be
/// produced by any thread or device independently, and the numbers never depend on how work is split.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The four 32-bit words of block (<paramref name="counter"/>, <paramref name="key"/>); the counter's high 64 bits are zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint, uint, uint) Block(ulong counter, ulong key) =>
        Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)key, (uint)(key >> 32));

    /// <summary>Ten rounds of Philox4x32 on a full 128-bit counter and 64-bit key.</summary>
    public static (uint, uint, uint, uint) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }
        return (c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Word((uint, uint, uint, uint) b, int i) => i switch { 0 => b.Item1, 1 => b.Item2, 2 => b.Item3, _ => b.Item4 };

    /// <summary>A float in [0, 1) from the top 24 bits of a word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUnitFloat(uint w) => (w >> 8) * (1.0f / (1 << 24));

    /// <summary>A double in [0, 1) from 53 bits of two words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToUnitDouble(uint hi, uint lo) => ((((ulong)hi << 32) | lo) >> 11) * (1.0 / (1UL << 53));

    /// <summary>Box–Muller on the four words of one block: one standard normal, computed in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double StandardNormal((uint, uint, uint, uint) b)
    {
        double u1 = 1.0 - ToUnitDouble(b.Item1, b.Item2); // (0, 1]: the log stays finite
        double u2 = ToUnitDouble(b.Item3, b.Item4);
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>
    /// Number of 128-bit blocks a fill of <paramref name="count"/> elements consumes: the element-to-block
    /// map that every backend follows (F32 uniform: 4 per block; F64 uniform and integers: 2; normal: 1).
    /// </summary>
    public static ulong BlocksFor(Backends.RandomDistribution distribution, DType dtype, long count) => distribution switch
    {
        Backends.RandomDistribution.Uniform when dtype == DType.F32 => (ulong)((count + 3) / 4),
        Backends.RandomDistribution.Normal => (ulong)count,
        _ => (ulong)((count + 1) / 2),
    };
}
