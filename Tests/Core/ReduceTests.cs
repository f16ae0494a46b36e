using Engine.Cpu;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Core.Reference;

namespace Engine.Tests.Core;

public class ReduceTests
{
    /// <summary>The elements of each output position of a reduction over <paramref name="axes"/>, in input order.</summary>
    private static List<double>[] Groups(double[] x, int[] shape, int[] axes, out int[] keptShape)
    {
        keptShape = (int[])shape.Clone();
        foreach (var a in axes) keptShape[a] = 1;
        var groups = new List<double>[Count(keptShape)];
        for (int i = 0; i < groups.Length; i++) groups[i] = [];
        for (long f = 0; f < x.Length; f++)
        {
            var idx = Unravel(f, shape);
            foreach (var a in axes) idx[a] = 0;
            groups[Ravel(idx, keptShape)].Add(x[f]);
        }
        return groups;
    }

    private static int[] Dropped(int[] shape, int[] axes) => shape.Where((_, i) => !axes.Contains(i)).ToArray();

    private static double Variance(List<double> g, int correction)
    {
        double mean = g.Sum() / g.Count;
        return g.Sum(v => (v - mean) * (v - mean)) / Math.Max(0, g.Count - correction);
    }

    private static double LogSumExpRef(List<double> g)
    {
        double m = g.Max();
        if (double.IsInfinity(m)) m = 0;
        return Math.Log(g.Sum(v => Math.Exp(v - m))) + m;
    }

    private static readonly (string Name, Func<Tensor, int[]?, bool, Tensor> Op, Func<List<double>, double> Ref)[] Reductions =
    [
        ("sum", (t, d, k) => t.Sum(d, k), g => g.Sum()),
        ("mean", (t, d, k) => t.Mean(d, k), g => g.Sum() / g.Count),
        ("max", (t, d, k) => t.Max(d, k), g => g.Max()),
        ("min", (t, d, k) => t.Min(d, k), g => g.Min()),
        ("var", (t, d, k) => t.Var(d, 1, k), g => Variance(g, 1)),
        ("var0", (t, d, k) => t.Var(d, 0, k), g => Variance(g, 0)),
        ("std", (t, d, k) => t.Std(d, 1, k), g => Math.Sqrt(Variance(g, 1))),
        ("std0", (t, d, k) => t.Std(d, 0, k), g => Math.Sqrt(Variance(g, 0))),
        ("logsumexp", (t, d, k) => t.LogSumExp(d ?? [], k), LogSumExpRef),
    ];

    [Theory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    public void ReductionsOverRandomAxisSetsMatchReferenceLoops(DType dtype)
    {
        var gen = ShapeAndSeed(1, 4, 5);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, seed) = c;
            var rng = new System.Random(seed);
            var values = RandomF32Doubles(rng, Count(shape));
            var x = Strided(values, shape, dtype, AllKinds[rng.Next(3)]);
            // A random non-empty subset of the axes, given in random order, some as negative indices.
            var axes = Enumerable.Range(0, shape.Length).Where(_ => rng.Next(2) == 0).ToArray();
            if (axes.Length == 0) axes = [rng.Next(shape.Length)];
            var given = axes.OrderBy(_ => rng.Next()).Select(a => rng.Next(2) == 0 ? a : a - shape.Length).ToArray();
            bool keepDim = rng.Next(2) == 0;
            var groups = Groups(values, shape, axes, out var kept);
            var outShape = keepDim ? kept : Dropped(shape, axes);
            foreach (var (name, op, reference) in Reductions)
            {
                var y = op(x, given, keepDim);
                Assert.Equal(outShape, y.Shape);
                Assert.Equal(dtype, y.DType);
                var expected = groups.Select(reference).ToArray();
                if (dtype == DType.F32) expected = expected.Select(v => (double)(float)v).ToArray();
                Close(expected, y.ToArray<double>(), dtype == DType.F64 ? 1e-12 : 2e-5, dtype == DType.F64 ? 1e-13 : 1e-5, $"{name} over ({string.Join(", ", given)}) of {Layout.Format(shape)}");
            }
            return true;
        }, 120);
    }

    [Fact]
    public void ReducingEverythingGivesAScalar()
    {
        using var scope = Tensor.Scope();
        var values = Enumerable.Range(1, 24).Select(i => (double)i).ToArray();
        foreach (var kind in AllKinds)
        {
            var x = Strided(values, [2, 3, 4], DType.F64, kind);
            Assert.Equal(0, x.Sum().Rank);
            Assert.Equal(300.0, x.Sum().Item());
            Assert.Equal(300.0, x.Sum([]).Item()); // an empty dim list reduces everything, as in PyTorch
            Assert.Equal(12.5, x.Mean().Item());
            Assert.Equal(24.0, x.Max().Item());
            Assert.Equal(1.0, x.Min().Item());
            Assert.Equal(50.0, x.Var().Item(), 12); // n(n+1)/12 for 1..24
            Assert.Equal(new[] { 1, 1, 1 }, x.Sum(null, keepDim: true).Shape);
            Assert.Equal(300.0, x.Sum([0, 1, 2]).Item());
        }
        var s = Tensor.Scalar(4, DType.F64);
        Assert.Equal(4.0, s.Sum().Item());
        Assert.Equal(4.0, s.Max(0).Item());
        Assert.Equal(0, s.Mean(-1).Rank);
    }

    [Fact]
    public void EmptyReductions()
    {
        using var scope = Tensor.Scope();
        var e = Tensor.Zeros([2, 0, 3], DType.F64);
        var s = e.Sum(1);
        Assert.Equal(new[] { 2, 3 }, s.Shape);
        Assert.All(s.ToArray<double>(), v => Assert.Equal(0.0, v));
        Assert.Equal(new[] { 2, 0 }, e.Sum(2).Shape);
        Assert.Equal(0.0, e.Sum().Item());
        Assert.True(double.IsNaN(e.Mean().Item())); // torch.mean of an empty tensor is nan
        var me = Assert.Throws<ArgumentException>(() => e.Max(1));
        Assert.Contains("max", me.Message);
        Assert.Throws<ArgumentException>(() => e.Min());
        Assert.Throws<ArgumentException>(() => e.ArgMax(1));
        // Max along a non-empty dimension of a tensor that is empty elsewhere is fine and empty.
        Assert.Equal(new[] { 2, 0 }, e.Max(2).Shape);
    }

    [Fact]
    public void ReductionErrors()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3]);
        var e = Assert.Throws<ArgumentException>(() => x.Sum([0, -2]));
        Assert.Contains("sum", e.Message);
        var oor = Assert.Throws<ArgumentOutOfRangeException>(() => x.Mean(2));
        Assert.Contains("mean", oor.Message);
        Assert.Contains("[-2, 1]", oor.Message);
        var i = Assert.Throws<ArgumentException>(() => Tensor.FromArray(new long[] { 1, 2 }).Sum());
        Assert.Contains("sum", i.Message);
        Assert.Contains("torch.int64", i.Message);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void MaxAndMinPropagateNaNOnEveryPath(DType dtype)
    {
        using var scope = Tensor.Scope();
        // Long contiguous rows take the vectorised path; the permuted copy takes the strided one.
        int[] shape = [3, 70_000];
        var values = RandomDoubles(new System.Random(2), Count(shape));
        values[70_000 + 12_345] = double.NaN; // row 1 only
        foreach (var kind in new[] { Kind.Contiguous, Kind.Permuted })
        {
            var x = Strided(values, shape, dtype, kind);
            foreach (var y in new[] { x.Max(1), x.Min(1) })
            {
                var v = y.ToArray<double>();
                Assert.False(double.IsNaN(v[0]));
                Assert.True(double.IsNaN(v[1]), $"{kind}");
                Assert.False(double.IsNaN(v[2]));
            }
            Assert.True(double.IsNaN(x.Max().Item()));
            Assert.True(double.IsNaN(x.Min().Item()));
            Assert.True(double.IsNaN(x.Sum().Item()));
        }
        var big = Strided(values.Skip(70_000).Take(70_000).ToArray(), [70_000], dtype, Kind.Contiguous);
        Assert.True(double.IsNaN(big.Max().Item()));
        Assert.True(double.IsNaN(big.Min().Item()));
    }

    [Fact]
    public void ArgMaxArgMinMatchReferenceWithFirstOccurrenceOnTies()
    {
        var gen = ShapeAndSeed(1, 4, 5);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, seed) = c;
            var rng = new System.Random(seed);
            // Few distinct values so ties are common.
            var values = Enumerable.Range(0, (int)Count(shape)).Select(_ => (double)rng.Next(-2, 3)).ToArray();
            var x = Strided(values, shape, rng.Next(2) == 0 ? DType.F32 : DType.F64, AllKinds[rng.Next(3)]);
            int dim = rng.Next(shape.Length);
            bool keepDim = rng.Next(2) == 0;
            var groups = Groups(values, shape, [dim], out var kept);
            foreach (var (isMax, y) in new[] { (true, x.ArgMax(dim, keepDim)), (false, x.ArgMin(dim - (rng.Next(2) == 0 ? 0 : shape.Length), keepDim)) })
            {
                Assert.Equal(DType.I64, y.DType);
                Assert.Equal(keepDim ? kept : Dropped(shape, [dim]), y.Shape);
                var expected = groups.Select(g =>
                {
                    double best = isMax ? g.Max() : g.Min();
                    return (long)g.IndexOf(best);
                }).ToArray();
                Assert.Equal(expected, y.ToArray<long>());
            }
            // Without a dim: the index into the flattened tensor.
            Assert.Equal((long)Array.IndexOf(values, values.Max()), x.ArgMax().Item<long>());
            Assert.Equal((long)Array.IndexOf(values, values.Min()), x.ArgMin().Item<long>());
            Assert.Equal(0, x.ArgMax().Rank);
            return true;
        }, 150);
    }

    [Fact]
    public void ArgMaxOverEverythingWithKeepDimKeepsTheRank()
    {
        // torch.argmax(x, keepdim=True) without a dim: the flat index, shaped like x with every size 1.
        using (Tensor.Scope())
        {
            var x = Tensor.FromArray(new double[] { 1, 3, 2, 0 }, [2, 2]);
            var max = x.ArgMax(keepDim: true);
            var min = x.ArgMin(keepDim: true);
            Assert.Equal(new[] { 1, 1 }, max.Shape);
            Assert.Equal(new[] { 1, 1 }, min.Shape);
            Assert.Equal(new[] { 1L }, max.ToArray<long>());
            Assert.Equal(new[] { 3L }, min.ToArray<long>());
        }
        Check(ShapeAndSeed(0, 4, 4), c =>
        {
            using var scope = Tensor.Scope();
            var (shape, seed) = c;
            var rng = new System.Random(seed);
            var values = Enumerable.Range(0, (int)Count(shape)).Select(_ => (double)rng.Next(-2, 3)).ToArray();
            var x = Strided(values, shape, DType.F32, AllKinds[rng.Next(3)]);
            var ones = Enumerable.Repeat(1, shape.Length).ToArray();
            var max = x.ArgMax(keepDim: true);
            var min = x.ArgMin(keepDim: true);
            Assert.Equal(ones, max.Shape);
            Assert.Equal(ones, min.Shape);
            Assert.Equal((long)Array.IndexOf(values, values.Max()), max.ToArray<long>().Single());
            Assert.Equal((long)Array.IndexOf(values, values.Min()), min.ToArray<long>().Single());
            return true;
        }, 60);
    }

    [Fact]
    public void EveryReductionOverEverythingWithKeepDimGivesSizeOneDims()
    {
        // The neighbours of argmax: each reduction over all dims with keepdim keeps the input's rank.
        Check(ShapeAndSeed(0, 4, 4), c =>
        {
            using var scope = Tensor.Scope();
            var (shape, seed) = c;
            var rng = new System.Random(seed);
            var x = Strided(RandomF32Doubles(rng, Count(shape)), shape, DType.F64, AllKinds[rng.Next(3)]);
            var ones = Enumerable.Repeat(1, shape.Length).ToArray();
            foreach (var (name, op, _) in Reductions)
            {
                Assert.True(ones.SequenceEqual(op(x, null, true).Shape), $"{name} of {Layout.Format(shape)} with keepDim over every dim (null)");
                Assert.True(ones.SequenceEqual(op(x, [], true).Shape), $"{name} of {Layout.Format(shape)} with keepDim over every dim ([])");
            }
            return true;
        }, 40);
    }

    [Fact]
    public void ArgMaxTreatsNaNAsTheExtreme()
    {
        using var scope = Tensor.Scope();
        // torch.argmax/argmin return the first NaN, since NaN propagates through max/min.
        var x = Tensor.FromArray(new double[] { 1, 5, double.NaN, 7, double.NaN });
        Assert.Equal(2L, x.ArgMax().Item<long>());
        Assert.Equal(2L, x.ArgMin().Item<long>());
        Assert.Equal(0L, Tensor.FromArray(new double[] { double.NaN, 1 }).ArgMax(0).Item<long>());
        Assert.Equal(1L, Tensor.FromArray(new double[] { 3, double.PositiveInfinity, double.PositiveInfinity }).ArgMax().Item<long>());
        Assert.Equal(0L, Tensor.Scalar(3).ArgMax().Item<long>());
        Assert.Equal(0L, Tensor.Scalar(3).ArgMin(0).Item<long>());
    }

    [Fact]
    public void LogSumExpIsStableForLargeAndInfiniteValues()
    {
        using var scope = Tensor.Scope();
        double inf = double.PositiveInfinity;
        var x = Tensor.FromArray(new double[]
        {
            1000, 1000,
            -1000, -1000,
            -inf, -inf,
            -inf, 0,
            inf, 1,
            1000, -1000,
            710, 709,
        }, [7, 2]);
        var y = x.LogSumExp(1).ToArray<double>();
        Assert.Equal(1000 + Math.Log(2), y[0], 12);
        Assert.Equal(-1000 + Math.Log(2), y[1], 12);
        Assert.Equal(double.NegativeInfinity, y[2]);
        Assert.Equal(0.0, y[3]);
        Assert.Equal(inf, y[4]);
        Assert.Equal(1000.0, y[5]);
        Assert.Equal(710 + Math.Log(1 + Math.Exp(-1)), y[6], 12);
        var f = Tensor.FromArray(new float[] { 100, 100, 100 }).LogSumExp(0);
        Assert.Equal(100 + MathF.Log(3), f.Item<float>(), 4);
        Assert.True(double.IsNaN(Tensor.FromArray(new double[] { double.NaN, 1 }).LogSumExp(0).Item()));
        Assert.Equal(new[] { 7, 1 }, x.LogSumExp(1, keepDim: true).Shape);
    }

    [Fact]
    public void VarianceEdgeCases()
    {
        using var scope = Tensor.Scope();
        var one = Tensor.FromArray(new double[] { 3 });
        Assert.True(double.IsNaN(one.Var().Item())); // torch.var of one element (unbiased) is nan
        Assert.Equal(0.0, one.Var(correction: 0).Item());
        // Two-pass variance keeps precision for data far from zero.
        var x = Tensor.FromArray(new double[] { 1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4 });
        Assert.Equal(5.0 / 3, x.Var().Item(), 9);
        Assert.Equal(Math.Sqrt(1.25), x.Std(correction: 0).Item(), 9);
    }

    [Fact]
    public void ReductionsOfExpandedInputsCountEveryBroadcastElement()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, [3, 1]).Expand(3, 4);
        Assert.Equal(new double[] { 4, 8, 12 }, x.Sum(1).ToArray<double>());
        Assert.Equal(new double[] { 6, 6, 6, 6 }, x.Sum(0).ToArray<double>());
        Assert.Equal(24.0, x.Sum().Item());
        Assert.Equal(new long[] { 2, 2, 2, 2 }, x.ArgMax(0).ToArray<long>());
        Assert.Equal(new long[] { 0, 0, 0 }, x.ArgMax(1).ToArray<long>());
    }

    [Fact]
    public void LargeFullSumIsAccurate()
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(17);
        var values = RandomF32Doubles(rng, 3_000_000, 0, 1);
        double exact = 0, comp = 0;
        foreach (var v in values) { double yk = v - comp, t = exact + yk; comp = t - exact - yk; exact = t; } // Kahan
        Assert.Equal(exact, Reference.Make(values, [3_000_000], DType.F64).Sum().Item(), 1e-7);
        Assert.True(Math.Abs(Reference.Make(values, [3_000_000], DType.F32).Sum().Item() - exact) <= 1e-5 * exact);
    }
}

/// <summary>Reductions must give the same bits whatever the thread count (they change a global setting, so they run alone).</summary>
[Collection(Reference.GlobalState)]
public class ReduceDeterminismTests
{
    private static double[] Run(int threads, Func<Tensor> make, Func<Tensor, Tensor> op)
    {
        int previous = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = threads;
            using var scope = Tensor.Scope();
            return op(make()).ToArray<double>();
        }
        finally
        {
            CpuParallel.ThreadCount = previous;
        }
    }

    private static void SameBitsForOneAndTwoThreads(Func<Tensor> make, Func<Tensor, Tensor> op, string what)
    {
        var one = Run(1, make, op);
        var two = Run(2, make, op);
        var again = Run(2, make, op);
        Bitwise(one, two, what + " (1 vs 2 threads)");
        Bitwise(two, again, what + " (2 threads, twice)");
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void FullSumOfThreeMillionElements(DType dtype)
    {
        var values = RandomDoubles(new System.Random(1), 3_000_000, -1, 1);
        SameBitsForOneAndTwoThreads(() => Make(values, [3_000_000], dtype), t => t.Sum(), "sum");
        SameBitsForOneAndTwoThreads(() => Make(values, [3_000_000], dtype), t => t.Mean(), "mean");
        SameBitsForOneAndTwoThreads(() => Make(values, [3_000_000], dtype), t => t.Max(), "max");
        SameBitsForOneAndTwoThreads(() => Make(values, [1000, 3000], dtype).T, t => t.Sum(), "sum of a transpose");
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void ReductionsOfA2000By700MatrixOverEachAxis(DType dtype)
    {
        var values = RandomDoubles(new System.Random(2), 2000 * 700, -1, 1);
        Func<Tensor> make = () => Make(values, [2000, 700], dtype);
        foreach (var dims in new int[][] { [0], [1], [0, 1] })
        {
            string d = string.Join(",", dims);
            SameBitsForOneAndTwoThreads(make, t => t.Sum(dims), $"sum({d})");
            SameBitsForOneAndTwoThreads(make, t => t.Max(dims), $"max({d})");
            SameBitsForOneAndTwoThreads(make, t => t.Var(dims), $"var({d})");
            SameBitsForOneAndTwoThreads(make, t => t.LogSumExp(dims), $"logsumexp({d})");
            SameBitsForOneAndTwoThreads(() => make().T, t => t.Sum(dims), $"sum({d}) of the transpose");
        }
        SameBitsForOneAndTwoThreads(make, t => t.ArgMax(0), "argmax(0)");
        SameBitsForOneAndTwoThreads(make, t => t.ArgMin(1), "argmin(1)");
    }
}
