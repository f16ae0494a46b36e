using Engine.Randomness;

namespace Engine.Models.Data;

/// <summary>
/// The random draws of one unit of data work (a sample's augmentation, a batch's mixing, an epoch's
/// shuffle), taken from Philox4x32-10 with the seed as key and the 128-bit counter
/// (draw, index, epoch, stream). Draw k is a pure function of (seed, stream, epoch, index, k), so the
/// numbers never depend on which thread asks or when: prefetching cannot change them, and resuming at
/// epoch k reproduces epoch k.
/// </summary>
public sealed class SampleRandom
{
    private readonly uint _k0, _k1, _index, _epoch, _stream;
    private uint _draw;

    /// <summary>Creates the draws for (<paramref name="seed"/>, <paramref name="stream"/>, <paramref name="epoch"/>, <paramref name="index"/>).</summary>
    public SampleRandom(ulong seed, uint stream, uint epoch, uint index)
    {
        (_k0, _k1) = ((uint)seed, (uint)(seed >> 32));
        (_stream, _epoch, _index) = (stream, epoch, index);
    }

    /// <summary>The streams the data pipeline uses, so that its draws never overlap.</summary>
    public static class Streams
    {
        /// <summary>The loader's permutation of an epoch (index 0).</summary>
        public const uint Shuffle = 1;
        /// <summary>Per-sample transforms (index: the dataset index).</summary>
        public const uint Sample = 2;
        /// <summary>Batch transforms such as mixup (index: the batch's position in the epoch).</summary>
        public const uint Batch = 3;
        /// <summary>The images of the synthetic dataset.</summary>
        public const uint Synthetic = 4;
    }

    /// <summary>Number of blocks drawn so far.</summary>
    public uint Draws => _draw;

    private (uint, uint, uint, uint) NextBlock() => Philox.Block(_draw++, _index, _epoch, _stream, _k0, _k1);

    /// <summary>A uniform double in [0, 1) (53 bits of one block).</summary>
    public double NextDouble()
    {
        var b = NextBlock();
        return Philox.ToUnitDouble(b.Item1, b.Item2);
    }

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"random: the upper bound must be positive, got {maxExclusive}.");
        var b = NextBlock();
        // The high 64 bits of a 64x64-bit product scale the word to the range; the bias is below 2^-32.
        ulong word = ((ulong)b.Item1 << 32) | b.Item2;
        return (int)Math.BigMul(word, (ulong)maxExclusive, out _);
    }

    /// <summary>A uniform integer in [<paramref name="low"/>, <paramref name="highExclusive"/>).</summary>
    public int NextInt(int low, int highExclusive) => low + NextInt(highExclusive - low);

    /// <summary>A standard normal (Box–Muller on one block, as the tensor generator does).</summary>
    public double NextNormal() => Philox.StandardNormal(NextBlock());

    /// <summary>
    /// A Gamma(<paramref name="shape"/>, 1) sample by Marsaglia and Tsang's method ("A simple method for
    /// generating gamma variables", ACM TOMS 2000); for shape &lt; 1 it samples shape + 1 and multiplies by
    /// U^(1/shape), as that paper suggests.
    /// </summary>
    public double NextGamma(double shape)
    {
        if (!(shape > 0) || double.IsInfinity(shape))
            throw new ArgumentOutOfRangeException(nameof(shape), $"gamma: the shape must be positive and finite, got {shape}.");
        if (shape < 1)
        {
            double boost = Math.Pow(1.0 - NextDouble(), 1.0 / shape); // (0, 1]
            return NextGamma(shape + 1) * boost;
        }
        double d = shape - 1.0 / 3.0, c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x = NextNormal(), t = 1.0 + c * x;
            if (t <= 0) continue;
            double v = t * t * t, u = 1.0 - NextDouble(); // (0, 1]: the log stays finite
            if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1.0 - v + Math.Log(v))) return d * v;
        }
    }

    /// <summary>A Beta(<paramref name="a"/>, <paramref name="b"/>) sample: X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).</summary>
    public double NextBeta(double a, double b)
    {
        double x = NextGamma(a), y = NextGamma(b);
        // Both can underflow to zero for tiny shapes; the limit then puts all mass at one end.
        if (x + y == 0) return NextDouble() < a / (a + b) ? 1.0 : 0.0;
        return x / (x + y);
    }

    /// <summary>A uniformly random permutation of 0..<paramref name="count"/>-1 (Fisher–Yates).</summary>
    public int[] Permutation(int count)
    {
        var p = new int[count];
        for (int i = 0; i < count; i++) p[i] = i;
        for (int i = count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}
