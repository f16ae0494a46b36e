using System.Collections.Concurrent;

namespace Engine.Cpu;

/// <summary>
/// A precomputed forward transform of one length, computed in double whatever the caller's precision
/// (accuracy first; the float entry point converts each row). Plans are immutable once built, so one
/// instance serves every thread.
/// </summary>
internal abstract unsafe class FftPlan
{
    private static readonly ConcurrentDictionary<int, FftPlan> Cache = new();

    /// <summary>Largest prime factor the mixed-radix plan handles with a direct O(p^2) butterfly;
    /// beyond it Bluestein's three power-of-two transforms are cheaper.</summary>
    internal const int MaxDirectPrime = 31;

    protected FftPlan(int n) => N = n;

    /// <summary>The transform length.</summary>
    public int N { get; }

    /// <summary>Doubles of scratch that <see cref="Forward"/> needs.</summary>
    public abstract int ScratchLength { get; }

    /// <summary>
    /// Forward DFT of one row in place: X[k] = sum_j x[j] e^{-2 pi i jk/n}. <paramref name="scratch"/>
    /// holds at least <see cref="ScratchLength"/> doubles and must not overlap the row.
    /// </summary>
    public abstract void Forward(double* re, double* im, double* scratch);

    /// <summary>
    /// The plan for length <paramref name="n"/>, built on first use. Two threads racing on a new length
    /// may both build it; one copy wins and the other is dropped, which is harmless because plans are pure.
    /// </summary>
    public static FftPlan For(int n) => Cache.GetOrAdd(n, Create);

    private static FftPlan Create(int n) =>
        LargestPrimeFactor(n) <= MaxDirectPrime ? new MixedRadixPlan(n) : new BluesteinPlan(n);

    internal static int LargestPrimeFactor(int n)
    {
        int largest = 1;
        for (int p = 2; (long)p * p <= n; p++)
            while (n % p == 0) { largest = p; n /= p; }
        return Math.Max(largest, n);
    }

    /// <summary>e^{-2 pi i k/n} with the angle reduced exactly, so large k*q products lose no accuracy.</summary>
    internal static (double Re, double Im) Root(long k, long n)
    {
        long r = k % n;
        if (r < 0) r += n;
        var (sin, cos) = double.SinCosPi(-2.0 * r / n);
        return (cos, sin);
    }
}
