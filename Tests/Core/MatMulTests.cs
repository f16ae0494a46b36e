using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Core.Reference;

namespace Engine.Tests.Core;

public class MatMulTests
{
    /// <summary>
    /// torch.matmul by naive loops: vectors become a row (left) or a column (right) and that dimension is
    /// dropped again; batch dimensions broadcast. Also returns, per output element, sum |a||b| for error bounds.
    /// </summary>
    private static (double[] Values, double[] Magnitudes, int[] Shape) MatMulRef(double[] a, int[] aShape, double[] b, int[] bShape)
    {
        int[] a2 = aShape.Length == 1 ? [1, aShape[0]] : aShape;
        int[] b2 = bShape.Length == 1 ? [bShape[0], 1] : bShape;
        int m = a2[^2], k = a2[^1], n = b2[^1];
        Assert.Equal(k, b2[^2]);
        var aBatch = a2[..^2];
        var bBatch = b2[..^2];
        var batch = BroadcastShape(aBatch, bBatch);
        long batches = Count(batch);
        var values = new double[batches * m * n];
        var mags = new double[values.Length];
        for (long bi = 0; bi < batches; bi++)
        {
            var bidx = Unravel(bi, batch);
            long aOff = BroadcastSource(bidx, aBatch) * m * k;
            long bOff = BroadcastSource(bidx, bBatch) * k * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double acc = 0, mag = 0;
                    for (int p = 0; p < k; p++)
                    {
                        double prod = a[aOff + i * k + p] * b[bOff + p * n + j];
                        acc += prod;
                        mag += Math.Abs(prod);
                    }
                    values[(bi * m + i) * n + j] = acc;
                    mags[(bi * m + i) * n + j] = mag;
                }
        }
        var shape = batch.ToList();
        if (aShape.Length > 1) shape.Add(m);
        if (bShape.Length > 1) shape.Add(n);
        return (values, mags, shape.ToArray());
    }

    private static void AssertMatMul(double[] av, int[] aShape, double[] bv, int[] bShape, DType dtype, Kind aKind, Kind bKind)
    {
        using var scope = Tensor.Scope();
        var a = Strided(av, aShape, dtype, aKind);
        var b = Strided(bv, bShape, dtype, bKind);
        var c = a.MatMul(b);
        var (expected, mags, shape) = MatMulRef(av, aShape, bv, bShape);
        Assert.Equal(shape, c.Shape);
        Assert.Equal(dtype, c.DType);
        var actual = c.ToArray<double>();
        int k = aShape[^1];
        double eps = dtype == DType.F64 ? 1.2e-16 : 6e-8;
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = 2 * (k + 2) * eps * mags[i] + 1e-300;
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound,
                $"{Layout.Format(aShape)} @ {Layout.Format(bShape)} ({dtype}, {aKind}/{bKind}) element {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    public static TheoryData<int[], int[]> Shapes() => new()
    {
        { [4], [4] },
        { [3], [3, 5] },
        { [4, 3], [3] },
        { [4, 3], [3, 5] },
        { [1, 1], [1, 1] },
        { [2, 4, 3], [2, 3, 5] },
        { [2, 4, 3], [3, 5] },
        { [4, 3], [2, 3, 5] },
        { [3], [2, 3, 5] },
        { [2, 4, 3], [3] },
        { [2, 1, 4, 3], [5, 3, 2] },
        { [1, 3, 2, 3], [2, 1, 3, 4] },
        { [3, 0], [0, 4] },
        { [0, 3], [3, 4] },
        { [4, 3], [3, 0] },
        { [0], [0] },
        { [2, 0, 3], [2, 3, 2] },
        { [17, 33], [33, 9] },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatMulMatchesNaiveLoops(int[] aShape, int[] bShape)
    {
        var rng = new System.Random(aShape.Sum() * 13 + bShape.Sum());
        var av = RandomF32Doubles(rng, Count(aShape));
        var bv = RandomF32Doubles(rng, Count(bShape));
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            foreach (var ak in AllKinds)
                foreach (var bk in AllKinds)
                    AssertMatMul(av, aShape, bv, bShape, dtype, ak, bk);
    }

    [Fact]
    public void InnerDimensionZeroGivesZeros()
    {
        using var scope = Tensor.Scope();
        var c = Tensor.Zeros([3, 0]).MatMul(Tensor.Zeros([0, 4]));
        Assert.Equal(new[] { 3, 4 }, c.Shape);
        Assert.All(c.ToArray<float>(), v => Assert.Equal(0f, v));
        var d = Tensor.Zeros([0], DType.F64).MatMul(Tensor.Zeros([0], DType.F64));
        Assert.Equal(0, d.Rank);
        Assert.Equal(0.0, d.Item());
    }

    [Fact]
    public void MatMulOfTransposedViewsOfTheSameStorage()
    {
        using var scope = Tensor.Scope();
        var values = Enumerable.Range(0, 12).Select(i => (double)i - 5).ToArray();
        var x = Tensor.FromArray(values, [3, 4]);
        var gram = x.MatMul(x.T); // [3, 3]
        var expected = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int p = 0; p < 4; p++)
                    expected[i * 3 + j] += values[i * 4 + p] * values[j * 4 + p];
        Assert.Equal(expected, gram.ToArray<double>());
        var outer = x.T.MatMul(x); // [4, 4]
        Assert.Equal(new[] { 4, 4 }, outer.Shape);
        // Symmetric, since it is x^T x.
        var o = outer.ToArray<double>();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.Equal(o[i * 4 + j], o[j * 4 + i]);
        // An expanded (stride-0) operand.
        var ones = Tensor.Ones([1, 1], DType.F64).Expand(4, 2);
        Assert.Equal(new double[] { -14, -14, 2, 2, 18, 18 }, x.MatMul(ones).ToArray<double>());
    }

    [Fact]
    public void RandomShapesAndLayouts()
    {
        var gen =
            from m in Gen.Choose(0, 6)
            from k in Gen.Choose(0, 6)
            from n in Gen.Choose(0, 6)
            from batch in ShapeGen(0, 2, 3)
            from seed in Gen.Choose(0, 1 << 30)
            select (m, k, n, batch, seed);
        Check(gen, c =>
        {
            var rng = new System.Random(c.seed);
            // Batch shapes that broadcast: each side drops leading dims or sets sizes to 1 at random.
            int[] Side(int rows, int cols)
            {
                var b = c.batch.Skip(rng.Next(c.batch.Length + 1)).Select(d => rng.Next(3) == 0 ? 1 : d);
                return [.. b, rows, cols];
            }
            int[] aShape = rng.Next(6) == 0 ? [c.k] : Side(c.m, c.k);
            int[] bShape = rng.Next(6) == 0 ? [c.k] : Side(c.k, c.n);
            var av = RandomF32Doubles(rng, Count(aShape));
            var bv = RandomF32Doubles(rng, Count(bShape));
            AssertMatMul(av, aShape, bv, bShape, rng.Next(2) == 0 ? DType.F32 : DType.F64, AllKinds[rng.Next(3)], AllKinds[rng.Next(3)]);
            return true;
        }, 200);
    }

    [Fact]
    public void ShapeErrorsNameTheOperationAndBothShapes()
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).MatMul(Tensor.Zeros([4, 5])));
        Assert.Contains("matmul", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 5]", e.Message);
        var v = Assert.Throws<ArgumentException>(() => Tensor.Zeros([3]).MatMul(Tensor.Zeros([4])));
        Assert.Contains("[3]", v.Message);
        Assert.Contains("[4]", v.Message);
        var batch = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 2, 3]).MatMul(Tensor.Zeros([3, 3, 4])));
        Assert.Contains("matmul", batch.Message);
        Assert.Contains("[2, 2, 3]", batch.Message);
        Assert.Contains("[3, 3, 4]", batch.Message);
        var r0 = Assert.Throws<ArgumentException>(() => Tensor.Scalar(1).MatMul(Tensor.Zeros([1])));
        Assert.Contains("matmul", r0.Message);
        var dt = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 2]).MatMul(Tensor.Zeros([2, 2], DType.F64)));
        Assert.Contains("matmul", dt.Message);
        Assert.Contains("torch.float64", dt.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 2], DType.I64).MatMul(Tensor.Zeros([2, 2], DType.I64)));
    }
}
