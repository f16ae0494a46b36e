using System.Runtime.Intrinsics.X86;
using Engine.Backends;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// The vectorised Philox (<see cref="PhiloxBatch"/>) and the fills built on it give the scalar stream's bits:
/// every width, many counters and keys, counters whose low word or whole 64 bits wrap, runs that start anywhere.
/// A width the processor lacks runs its narrower fallback (<see cref="PhiloxBatch.Supported"/>), which is then what is checked.
/// </summary>
public class PhiloxBatchTests
{
    /// <summary>The widths by name (<see cref="PhiloxWidth"/> is internal, so a test method cannot take it).</summary>
    public static TheoryData<string> Widths() => [nameof(PhiloxWidth.Scalar), nameof(PhiloxWidth.V256), nameof(PhiloxWidth.V512)];

    private static readonly ulong[] Keys = [0, 1, 42, 0xFFFF_FFFF, 0x1_0000_0000, 0xa409_3822_299f_31d0, ulong.MaxValue];

    // Starts whose runs cross the low word's wrap (2^32 - 3), a high-word carry, and the 64-bit wrap (2^64 - 5).
    private static readonly ulong[] Starts = [0, 1, 5, 0xFFFF_FFFD, 0x1_FFFF_FFFA, 0x7FFF_FFFF_FFFF_FFFF, ulong.MaxValue - 4, ulong.MaxValue];

    private static uint[] ScalarWords(ulong firstCounter, ulong key, int blocks)
    {
        var words = new uint[4 * blocks];
        for (int j = 0; j < blocks; j++)
        {
            var (a, b, c, d) = Philox.Block(unchecked(firstCounter + (ulong)j), key);
            words[4 * j] = a; words[4 * j + 1] = b; words[4 * j + 2] = c; words[4 * j + 3] = d;
        }
        return words;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void BlocksAreTheScalarBlocksBitForBit(string widthName)
    {
        var width = Enum.Parse<PhiloxWidth>(widthName);
        foreach (var key in Keys)
            foreach (var start in Starts)
                foreach (int blocks in new[] { 1, 3, 4, 7, 8, 9, 15, 16, 17, 37, 64 })
                {
                    var words = new uint[4 * blocks];
                    PhiloxBatch.Blocks(start, key, words, width);
                    Assert.True(ScalarWords(start, key, blocks).AsSpan().SequenceEqual(words),
                        $"{width}: blocks {start:X}+{blocks} under key {key:X} differ from Philox.Block");
                }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void RandomCountersAndKeysGiveTheScalarBits(string widthName)
    {
        var width = Enum.Parse<PhiloxWidth>(widthName);
        var rng = new System.Random(20);
        var words = new uint[4 * 24];
        for (int trial = 0; trial < 3000; trial++)
        {
            ulong key = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40), start = (ulong)rng.NextInt64() << rng.Next(2);
            PhiloxBatch.Blocks(start, key, words, width);
            Assert.True(ScalarWords(start, key, 24).AsSpan().SequenceEqual(words), $"{width}: key {key:X} start {start:X}");
        }
    }

    [Fact]
    public void TheBestWidthFollowsTheProcessor()
    {
        var expected = Avx512F.IsSupported && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? PhiloxWidth.V512
            : Avx2.IsSupported ? PhiloxWidth.V256 : PhiloxWidth.Scalar;
        Assert.Equal(expected, PhiloxBatch.Best);
    }

    [Fact]
    public void APartialBlockIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => PhiloxBatch.Blocks(0, 0, new uint[6]));
        Assert.Contains("philox", e.Message);
        Assert.Contains("6 words", e.Message);
    }

    /// <summary>Runs of the F32 and F64 uniform streams that start at any element and cross the 1024-word chunks.</summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void UnitRunsStartAnywhere(string widthName)
    {
        var width = Enum.Parse<PhiloxWidth>(widthName);
        const ulong key = 77, offset = 0xFFFF_FFF0;
        foreach (long first in new long[] { 0, 1, 2, 3, 5, 1021, 4097 })
            foreach (int n in new[] { 1, 2, 7, 31, 1023, 1024, 1025, 2600 })
            {
                var f = new float[n];
                PhiloxStream.UnitFloats(key, offset, first, f, width);
                var d = new double[n];
                PhiloxStream.UnitDoubles(key, offset, first, d, width);
                for (int i = 0; i < n; i++)
                {
                    long e = first + i;
                    var b4 = Philox.Block(offset + (ulong)(e / 4), key);
                    Assert.Equal(Philox.ToUnitFloat(Philox.Word(b4, (int)(e % 4))), f[i]);
                    var b2 = Philox.Block(offset + (ulong)(e / 2), key);
                    int w = (int)(e % 2) * 2;
                    Assert.Equal(Philox.ToUnitDouble(Philox.Word(b2, w), Philox.Word(b2, w + 1)), d[i]);
                }
            }
    }

    /// <summary>
    /// The CPU fills, element by element against the scalar formulas, from a generator offset that wraps the
    /// counter's low word: uniform F32 and F64 on [0, 1) and on another interval, normal, and integers.
    /// </summary>
    [Fact]
    public void CpuFillsAreTheScalarFormulas()
    {
        using var scope = Tensor.Scope();
        const ulong seed = 31, offset = 0xFFFF_FFFF - 300;
        const int n = 2501;
        foreach (var (lo, hi) in new[] { (0.0, 1.0), (-2.5, 3.0) })
        {
            var f = Tensor.Empty([n], DType.F32);
            f.Backend.Random(f, RandomDistribution.Uniform, seed, offset, lo, hi);
            var d = Tensor.Empty([n], DType.F64);
            d.Backend.Random(d, RandomDistribution.Uniform, seed, offset, lo, hi);
            var fs = f.ToArray<float>();
            var ds = d.ToArray<double>();
            for (int i = 0; i < n; i++)
            {
                var b4 = Philox.Block(offset + (ulong)(i / 4), seed);
                Assert.Equal((float)(lo + (hi - lo) * Philox.ToUnitFloat(Philox.Word(b4, i % 4))), fs[i]);
                var b2 = Philox.Block(offset + (ulong)(i / 2), seed);
                Assert.Equal(lo + (hi - lo) * Philox.ToUnitDouble(Philox.Word(b2, 2 * (i % 2)), Philox.Word(b2, 2 * (i % 2) + 1)), ds[i]);
            }
        }
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            var t = Tensor.Empty([n], dtype);
            t.Backend.Random(t, RandomDistribution.Normal, seed, offset, 1.5, 2.0);
            var v = ActivationValues(t);
            for (int i = 0; i < n; i++)
            {
                double z = 1.5 + 2.0 * Philox.StandardNormal(Philox.Block(offset + (ulong)i, seed));
                Assert.Equal(dtype == DType.F32 ? (float)z : z, v[i]);
            }
        }
        var ints = Tensor.Empty([n], DType.I64);
        ints.Backend.RandomInteger(ints, seed, offset, -1000, 999_999);
        var iv = ints.ToArray<long>();
        for (int i = 0; i < n; i++)
        {
            var b = Philox.Block(offset + (ulong)(i / 2), seed);
            ulong bits = ((ulong)Philox.Word(b, 2 * (i % 2)) << 32) | Philox.Word(b, 2 * (i % 2) + 1);
            Assert.Equal(-1000 + (long)(bits % 1_000_999), iv[i]);
        }
    }

    private static double[] ActivationValues(Tensor t) =>
        t.DType == DType.F32 ? t.ToArray<float>().Select(x => (double)x).ToArray() : t.ToArray<double>();
}
