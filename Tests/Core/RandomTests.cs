using Engine.Cpu;
using Engine.Randomness;
using Xunit;
using static Engine.Tests.Core.Reference;

namespace Engine.Tests.Core;

public class RandomTests
{
    // Philox4x32-10 known-answer vectors, Random123 distribution, tests/kat_vectors lines 27-29
    // (DEShawResearch/random123 at 9545ff6): counter (4 words), key (2 words), expected output (4 words).
    public static TheoryData<uint[], uint[], uint[]> KnownAnswers() => new()
    {
        { [0x00000000, 0x00000000, 0x00000000, 0x00000000], [0x00000000, 0x00000000], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] },
        { [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd] },
        { [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1] },
    };

    [Theory]
    [MemberData(nameof(KnownAnswers))]
    public void PhiloxMatchesRandom123KnownAnswers(uint[] counter, uint[] key, uint[] expected)
    {
        var (a, b, c, d) = Philox.Block(counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
        Assert.Equal(expected, new[] { a, b, c, d });
    }

    [Fact]
    public void SixtyFourBitCounterAndKeyAreSplitLowWordFirst()
    {
        ulong counter = 0x0000_0007_0000_0002, key = 0xa409_3822_299f_31d0;
        Assert.Equal(Philox.Block(2, 7, 0, 0, 0x299f31d0, 0xa4093822), Philox.Block(counter, key));
        Assert.NotEqual(Philox.Block(counter, key), Philox.Block(counter + 1, key));
        Assert.NotEqual(Philox.Block(counter, key), Philox.Block(counter, key + 1));
    }

    [Fact]
    public void UniformF32FollowsTheDocumentedElementToBlockMap()
    {
        using var scope = Tensor.Scope();
        var g = new Generator(99);
        var t = Tensor.Rand([10], DType.F32, generator: g).ToArray<float>();
        for (int i = 0; i < 10; i++)
        {
            var block = Philox.Block((ulong)(i / 4), 99);
            uint w = (i % 4) switch { 0 => block.Item1, 1 => block.Item2, 2 => block.Item3, _ => block.Item4 };
            Assert.Equal((w >> 8) / 16777216f, t[i]);
        }
        Assert.Equal(3UL, g.Offset); // ceil(10 / 4) blocks
    }

    [Fact]
    public void UniformF64AndNormalFollowTheDocumentedElementToBlockMap()
    {
        using var scope = Tensor.Scope();
        var g = new Generator(5);
        var u = Tensor.Rand([3], DType.F64, generator: g).ToArray<double>();
        for (int i = 0; i < 3; i++)
        {
            var b = Philox.Block((ulong)(i / 2), 5);
            ulong bits = i % 2 == 0 ? ((ulong)b.Item1 << 32) | b.Item2 : ((ulong)b.Item3 << 32) | b.Item4;
            Assert.Equal((bits >> 11) / 9007199254740992.0, u[i]);
        }
        Assert.Equal(2UL, g.Offset);
        var n = Tensor.Randn([3], DType.F64, generator: g).ToArray<double>();
        for (int i = 0; i < 3; i++)
        {
            var b = Philox.Block(2 + (ulong)i, 5); // continues after the two uniform blocks
            double u1 = 1 - ((((ulong)b.Item1 << 32) | b.Item2) >> 11) / 9007199254740992.0;
            double u2 = ((((ulong)b.Item3 << 32) | b.Item4) >> 11) / 9007199254740992.0;
            Assert.Equal(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2), n[i], 15);
        }
        Assert.Equal(5UL, g.Offset);
    }

    [Fact]
    public void SameSeedSameNumbersDifferentSeedDifferentNumbers()
    {
        using var scope = Tensor.Scope();
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            var a = Tensor.Rand([1000], dtype, generator: new Generator(42)).ToArray<double>();
            var b = Tensor.Rand([1000], dtype, generator: new Generator(42)).ToArray<double>();
            var c = Tensor.Rand([1000], dtype, generator: new Generator(43)).ToArray<double>();
            Bitwise(a, b, "same seed");
            Assert.True(a.Zip(c).Count(p => p.First == p.Second) < 5, "different seeds should give different streams");
            var na = Tensor.Randn([2, 50], dtype, generator: new Generator(7)).ToArray<double>();
            var nb = Tensor.Randn([2, 50], dtype, generator: new Generator(7)).ToArray<double>();
            Bitwise(na, nb, "randn same seed");
        }
        var ia = Tensor.RandInt(-100, 100, [500], generator: new Generator(3)).ToArray<long>();
        var ib = Tensor.RandInt(-100, 100, [500], generator: new Generator(3)).ToArray<long>();
        Assert.Equal(ia, ib);
    }

    [Fact]
    public void ConsecutiveCallsAdvanceTheOffsetAndContinueTheStream()
    {
        using var scope = Tensor.Scope();
        var g = new Generator(11);
        Assert.Equal(0UL, g.Offset);
        var first = Tensor.Rand([8], DType.F32, generator: g).ToArray<float>();
        Assert.Equal(2UL, g.Offset);
        var second = Tensor.Rand([8], DType.F32, generator: g).ToArray<float>();
        Assert.Equal(4UL, g.Offset);
        Assert.NotEqual(first, second);
        // Counter-based: two calls of 8 are one call of 16, split.
        var whole = Tensor.Rand([16], DType.F32, generator: new Generator(11)).ToArray<float>();
        Assert.Equal(whole, first.Concat(second).ToArray());

        Tensor.Randn([5], generator: g);
        Assert.Equal(9UL, g.Offset); // one block per normal
        Tensor.RandInt(0, 10, [5], generator: g);
        Assert.Equal(12UL, g.Offset); // two integers per block, rounded up
        Tensor.Rand([5], DType.F64, generator: g);
        Assert.Equal(15UL, g.Offset);
        Tensor.Rand([0], generator: g);
        Assert.Equal(15UL, g.Offset);
    }

    [Fact]
    public void ManualSeedResetsSeedAndOffset()
    {
        using var scope = Tensor.Scope();
        var g = new Generator(1);
        var a = Tensor.Randn([20], DType.F64, generator: g).ToArray<double>();
        Tensor.Randn([20], DType.F64, generator: g);
        Assert.Same(g, g.ManualSeed(1));
        Assert.Equal(0UL, g.Offset);
        Assert.Equal(1UL, g.Seed);
        Bitwise(a, Tensor.Randn([20], DType.F64, generator: g).ToArray<double>(), "after reseeding");
        g.ManualSeed(2);
        Bitwise(Tensor.Randn([20], DType.F64, generator: new Generator(2)).ToArray<double>(),
            Tensor.Randn([20], DType.F64, generator: g).ToArray<double>(), "reseeded to 2");
        // Restoring a saved offset replays the stream from there.
        g.Offset = 3;
        var replay = Tensor.Rand([4], DType.F32, generator: g).ToArray<float>();
        var full = Tensor.Rand([16], DType.F32, generator: new Generator(2)).ToArray<float>();
        Assert.Equal(full[12..16], replay);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void RandIsUniformOnTheHalfOpenUnitInterval(DType dtype)
    {
        using var scope = Tensor.Scope();
        const int n = 1_000_000;
        var v = Tensor.Rand([n], dtype, generator: new Generator(2024)).ToArray<double>();
        Assert.True(v.Min() >= 0);
        Assert.True(v.Max() < 1);
        double mean = v.Average();
        double var = v.Sum(x => (x - mean) * (x - mean)) / (n - 1);
        // Standard errors: sqrt(1/12/n) = 2.9e-4 for the mean, about 7.5e-5 for the variance; allow 6.
        Assert.InRange(mean, 0.5 - 6 * 2.9e-4, 0.5 + 6 * 2.9e-4);
        Assert.InRange(var, 1.0 / 12 - 6 * 7.5e-5, 1.0 / 12 + 6 * 7.5e-5);
        // Ten equal bins, each within 6 standard deviations of n/10.
        var bins = new int[10];
        foreach (var x in v) bins[(int)(x * 10)]++;
        double sd = Math.Sqrt(n * 0.1 * 0.9);
        Assert.All(bins, c => Assert.InRange(c, n / 10 - 6 * sd, n / 10 + 6 * sd));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void RandnHasMeanZeroAndUnitStandardDeviation(DType dtype)
    {
        using var scope = Tensor.Scope();
        const int n = 1_000_000;
        var v = Tensor.Randn([1000, 1000], dtype, generator: new Generator(77)).ToArray<double>();
        Assert.All(v, x => Assert.True(double.IsFinite(x)));
        double mean = v.Average();
        double std = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (n - 1));
        // Standard errors: 1/sqrt(n) = 1e-3 for the mean, 1/sqrt(2n) = 7.1e-4 for the std; allow 6.
        Assert.InRange(mean, -6e-3, 6e-3);
        Assert.InRange(std, 1 - 6 * 7.1e-4, 1 + 6 * 7.1e-4);
        // Shape of the distribution: P(|x| < 1) = 0.6827, P(|x| < 2) = 0.9545.
        double p1 = v.Count(x => Math.Abs(x) < 1) / (double)n, p2 = v.Count(x => Math.Abs(x) < 2) / (double)n;
        Assert.InRange(p1, 0.6827 - 6 * 4.7e-4, 0.6827 + 6 * 4.7e-4);
        Assert.InRange(p2, 0.9545 - 6 * 2.1e-4, 0.9545 + 6 * 2.1e-4);
        // Symmetric: as many positives as negatives.
        Assert.InRange(v.Count(x => x > 0), n / 2 - 3000, n / 2 + 3000);
    }

    [Fact]
    public void RandIntStaysInRangeAndIsRoughlyUniform()
    {
        using var scope = Tensor.Scope();
        const int n = 200_000;
        var v = Tensor.RandInt(-3, 7, [n], generator: new Generator(8)).ToArray<long>();
        Assert.All(v, x => Assert.InRange(x, -3, 6));
        var counts = new int[10];
        foreach (var x in v) counts[x + 3]++;
        double sd = Math.Sqrt(n * 0.1 * 0.9);
        Assert.All(counts, c => Assert.InRange(c, n / 10 - 6 * sd, n / 10 + 6 * sd));
        var f = Tensor.RandInt(0, 2, [1000], DType.F32, generator: new Generator(8));
        Assert.Equal(DType.F32, f.DType);
        Assert.All(f.ToArray<float>(), x => Assert.True(x is 0 or 1));
        Assert.Throws<ArgumentException>(() => Tensor.RandInt(3, 3, [1]));
        Assert.Throws<ArgumentException>(() => Tensor.RandInt(0, 2, [1], DType.Bool));
    }

    [Fact]
    public void RandIntIsExactForBoundsBeyondDoublePrecision()
    {
        using var scope = Tensor.Scope();
        long lo = long.MaxValue - 10, hi = long.MaxValue;
        var v = Tensor.RandInt(lo, hi, [1000], generator: new Generator(4)).ToArray<long>();
        Assert.All(v, x => Assert.InRange(x, lo, hi - 1));
        Assert.Equal(10, v.Distinct().Count());
        long lo2 = (1L << 60) + 1;
        var w = Tensor.RandInt(lo2, lo2 + 3, [300], generator: new Generator(4)).ToArray<long>();
        Assert.Equal(new[] { lo2, lo2 + 1, lo2 + 2 }, w.Distinct().Order().ToArray());
        // The full signed range does not overflow.
        var full = Tensor.RandInt(long.MinValue, long.MaxValue, [1000], generator: new Generator(4)).ToArray<long>();
        Assert.True(full.Any(x => x < 0) && full.Any(x => x > 0));
    }

    [Fact]
    public void RandRejectsIntegerDTypes()
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Rand([2], DType.I64));
        Assert.Contains("rand", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Randn([2], DType.Bool));
    }
}

/// <summary>Random numbers must not depend on the thread count, and the default generator is process-wide state.</summary>
[Collection(Reference.GlobalState)]
public class RandomGlobalStateTests
{
    private static double[] WithThreads(int threads, Func<Tensor> make)
    {
        int previous = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = threads;
            using var scope = Tensor.Scope();
            return make().ToArray<double>();
        }
        finally
        {
            CpuParallel.ThreadCount = previous;
        }
    }

    [Fact]
    public void DifferentThreadCountsGiveIdenticalBits()
    {
        Func<Tensor>[] makers =
        [
            () => Tensor.Rand([1_000_003], DType.F32, generator: new Generator(5)),
            () => Tensor.Rand([500_001], DType.F64, generator: new Generator(5)),
            () => Tensor.Randn([300_007], DType.F64, generator: new Generator(5)),
            () => Tensor.Randn([300_007], DType.F32, generator: new Generator(5)),
            () => Tensor.RandInt(-1000, 1000, [400_003], generator: new Generator(5)),
        ];
        foreach (var make in makers)
            Bitwise(WithThreads(1, make), WithThreads(2, make), "1 vs 2 threads");
    }
}

/// <summary>
/// The default generator's seeding. It draws from <see cref="Generator.Default"/> and expects its own draws in
/// order, so it runs in the serial collection: a test beside it drawing from the default generator would
/// interleave.
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public class DefaultGeneratorTests
{
    [Fact]
    public void DefaultGeneratorIsSeededByManualSeed()
    {
        using var scope = Tensor.Scope();
        ulong seed = Generator.Default.Seed, offset = Generator.Default.Offset;
        try
        {
            Generator.SetDefaultSeed(123);
            var a = Tensor.Rand([6], DType.F64).ToArray<double>();
            var b = Tensor.Rand([6], DType.F64).ToArray<double>();
            Assert.NotEqual(a, b);
            var g = new Generator(123);
            Assert.Equal(Tensor.Rand([6], DType.F64, generator: g).ToArray<double>(), a);
            Assert.Equal(Tensor.Rand([6], DType.F64, generator: g).ToArray<double>(), b);
            Generator.SetDefaultSeed(123);
            Assert.Equal(a, Tensor.Rand([6], DType.F64).ToArray<double>());
        }
        finally
        {
            Generator.Default.ManualSeed(seed);
            Generator.Default.Offset = offset;
        }
    }
}
