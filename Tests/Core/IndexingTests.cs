using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Core.Reference;

namespace Engine.Tests.Core;

public class IndexingTests
{
    private static Tensor Index(long[] values, int[] shape, Kind kind) =>
        Strided(values.Select(v => (double)v).ToArray(), shape, DType.I64, kind);

    [Fact]
    public void IndexSelectMatchesReference()
    {
        var gen = ShapeAndSeed(1, 4, 5);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, seed) = c;
            var rng = new System.Random(seed);
            int dim = rng.Next(shape.Length), size = shape[dim];
            var values = RandomDoubles(rng, Count(shape));
            var x = Strided(values, shape, rng.Next(2) == 0 ? DType.F32 : DType.F64, AllKinds[rng.Next(3)]);
            // Repeats, negative indices (counted from the end) and empty index lists included.
            var idx = Enumerable.Range(0, rng.Next(0, 7)).Select(_ => (long)rng.Next(-size, size)).ToArray();
            var index = Index(idx, [idx.Length], AllKinds[rng.Next(3)]);
            var y = x.IndexSelect(rng.Next(2) == 0 ? dim : dim - shape.Length, index);
            var outShape = (int[])shape.Clone();
            outShape[dim] = idx.Length;
            Assert.Equal(outShape, y.Shape);
            Assert.Equal(x.DType, y.DType);
            var expected = new double[Count(outShape)];
            for (long f = 0; f < expected.Length; f++)
            {
                var o = Unravel(f, outShape);
                long i = idx[o[dim]];
                o[dim] = (int)(i < 0 ? i + size : i);
                expected[f] = values[Ravel(o, shape)];
            }
            if (x.DType == DType.F32) expected = expected.Select(v => (double)(float)v).ToArray();
            Assert.Equal(expected, y.ToArray<double>());
            return true;
        }, 150);
    }

    [Fact]
    public void IndexSelectWithAScalarIndexKeepsTheDimension()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var y = x.IndexSelect(1, Tensor.Scalar(2, DType.I64));
        Assert.Equal(new[] { 2, 1 }, y.Shape);
        Assert.Equal(new double[] { 3, 6 }, y.ToArray<double>());
        var s = Tensor.Scalar(7, DType.F64).IndexSelect(0, Tensor.FromArray(new long[] { 0 }));
        Assert.Equal(7.0, s.Item());
    }

    [Fact]
    public void IndexSelectOnAScalarAcceptsOnlyOneIndex()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Scalar(7, DType.F64);
        var e = Assert.Throws<ArgumentException>(() => x.IndexSelect(0, Tensor.FromArray(new long[] { 0, 0, 0, 0 })));
        Assert.Contains("index_select", e.Message);
        Assert.Throws<IndexOutOfRangeException>(() => x.IndexSelect(0, Tensor.FromArray(new long[] { 1 })));
    }

    [Fact]
    public void IndexSelectErrors()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([3, 4]);
        var oob = Assert.Throws<IndexOutOfRangeException>(() => x.IndexSelect(0, Tensor.FromArray(new long[] { 0, 3 })));
        Assert.Contains("index_select", oob.Message);
        Assert.Contains("3", oob.Message);
        Assert.Throws<IndexOutOfRangeException>(() => x.IndexSelect(1, Tensor.FromArray(new long[] { -5 })));
        var dt = Assert.Throws<ArgumentException>(() => x.IndexSelect(0, Tensor.FromArray(new float[] { 0 })));
        Assert.Contains("index_select", dt.Message);
        Assert.Contains("int64", dt.Message);
        var rank = Assert.Throws<ArgumentException>(() => x.IndexSelect(0, Tensor.Zeros([1, 1], DType.I64)));
        Assert.Contains("index_select", rank.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => x.IndexSelect(2, Tensor.FromArray(new long[] { 0 })));
    }

    /// <summary>Random (input shape, index shape) pairs for gather/scatter: same rank, index no larger than input off the dim.</summary>
    private static FsCheck.Gen<(int[] Shape, int[] IndexShape, int Dim, int Seed)> GatherCase() =>
        from shape in ShapeGen(1, 4, 4)
        from seed in Gen.Choose(0, 1 << 30)
        let rng = new System.Random(seed)
        let dim = rng.Next(shape.Length)
        let indexShape = shape.Select((d, i) => i == dim ? rng.Next(0, 6) : rng.Next(1, d + 1)).ToArray()
        select (shape, indexShape, dim, seed);

    [Fact]
    public void GatherMatchesReference()
    {
        Check(GatherCase(), c =>
        {
            using var scope = Tensor.Scope();
            var (shape, ishape, dim, seed) = c;
            var rng = new System.Random(seed + 1);
            var values = RandomDoubles(rng, Count(shape));
            var x = Strided(values, shape, DType.F64, AllKinds[rng.Next(3)]);
            int size = shape[dim];
            var idx = Enumerable.Range(0, (int)Count(ishape)).Select(_ => (long)rng.Next(-size, size)).ToArray();
            var y = x.Gather(rng.Next(2) == 0 ? dim : dim - shape.Length, Index(idx, ishape, AllKinds[rng.Next(3)]));
            Assert.Equal(ishape, y.Shape);
            var expected = new double[idx.Length];
            for (long f = 0; f < expected.Length; f++)
            {
                var o = Unravel(f, ishape);
                long i = idx[f];
                o[dim] = (int)(i < 0 ? i + size : i);
                expected[f] = values[Ravel(o, shape)];
            }
            Assert.Equal(expected, y.ToArray<double>());
            return true;
        }, 150);
    }

    [Fact]
    public void ScatterAddMatchesReferenceAndAccumulatesRepeats()
    {
        Check(GatherCase(), c =>
        {
            using var scope = Tensor.Scope();
            var (shape, ishape, dim, seed) = c;
            var rng = new System.Random(seed + 2);
            var values = RandomDoubles(rng, Count(shape));
            var x = Strided(values, shape, DType.F64, AllKinds[rng.Next(3)]);
            int size = shape[dim];
            // Few distinct targets, so collisions are common.
            var idx = Enumerable.Range(0, (int)Count(ishape)).Select(_ => (long)rng.Next(-Math.Min(size, 2), Math.Min(size, 2))).ToArray();
            // src may be larger than the index; only its leading window is used.
            var srcShape = ishape.Select(d => d + rng.Next(0, 2)).ToArray();
            var srcValues = RandomDoubles(rng, Count(srcShape));
            var src = Strided(srcValues, srcShape, DType.F64, AllKinds[rng.Next(3)]);
            var y = x.ScatterAdd(dim, Index(idx, ishape, AllKinds[rng.Next(3)]), src);
            Assert.Equal(shape, y.Shape);
            var expected = (double[])values.Clone();
            for (long f = 0; f < idx.Length; f++)
            {
                var o = Unravel(f, ishape);
                double v = srcValues[Ravel(o, srcShape)];
                long i = idx[f];
                o[dim] = (int)(i < 0 ? i + size : i);
                expected[Ravel(o, shape)] += v;
            }
            Close(expected, y.ToArray<double>(), 1e-14, 1e-14, "scatter_add");
            Assert.Equal(values, x.ToArray<double>()); // out of place
            return true;
        }, 150);
    }

    [Fact]
    public void ScatterAddIsDeterministicForRepeatedIndices()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([1], DType.F32);
        var src = Tensor.FromArray(new float[] { 1e8f, 1, -1e8f, 1 });
        var y = x.ScatterAdd(0, Tensor.FromArray(new long[] { 0, 0, 0, 0 }), src);
        // Added in index order: ((1e8 + 1) - 1e8) + 1 in float.
        Assert.Equal(((1e8f + 1f) - 1e8f) + 1f, y.Item<float>());
    }

    [Fact]
    public void GatherAndScatterOnScalarsCheckTheIndexValue()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Scalar(5, DType.F64);
        Assert.Equal(5.0, x.Gather(0, Tensor.Scalar(0, DType.I64)).Item());
        Assert.Equal(5.0, x.Gather(0, Tensor.Scalar(-1, DType.I64)).Item());
        var g = Assert.Throws<IndexOutOfRangeException>(() => x.Gather(0, Tensor.Scalar(3, DType.I64)));
        Assert.Contains("gather", g.Message);
        Assert.Equal(7.0, x.ScatterAdd(0, Tensor.Scalar(0, DType.I64), Tensor.Scalar(2, DType.F64)).Item());
        var s = Assert.Throws<IndexOutOfRangeException>(() => x.ScatterAdd(0, Tensor.Scalar(1, DType.I64), Tensor.Scalar(2, DType.F64)));
        Assert.Contains("scatter_add", s.Message);
    }

    [Fact]
    public void GatherAndScatterErrors()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3]);
        var oob = Assert.Throws<IndexOutOfRangeException>(() => x.Gather(1, Tensor.FromArray(new long[] { 0, 3 }, [1, 2])));
        Assert.Contains("gather", oob.Message);
        Assert.Contains("3", oob.Message);
        var rank = Assert.Throws<ArgumentException>(() => x.Gather(1, Tensor.FromArray(new long[] { 0 })));
        Assert.Contains("gather", rank.Message);
        Assert.Contains("[2, 3]", rank.Message);
        var big = Assert.Throws<ArgumentException>(() => x.Gather(1, Tensor.Zeros([3, 1], DType.I64)));
        Assert.Contains("gather", big.Message);
        var dt = Assert.Throws<ArgumentException>(() => x.Gather(0, Tensor.Zeros([1, 1], DType.F64)));
        Assert.Contains("gather", dt.Message);
        Assert.Contains("int64", dt.Message);

        var src = Tensor.Ones([2, 3]);
        var soob = Assert.Throws<IndexOutOfRangeException>(() => x.ScatterAdd(0, Tensor.FromArray(new long[] { 2 }, [1, 1]), src));
        Assert.Contains("scatter_add", soob.Message);
        var sdt = Assert.Throws<ArgumentException>(() => x.ScatterAdd(0, Tensor.Zeros([1, 1], DType.I64), Tensor.Ones([2, 3], DType.F64)));
        Assert.Contains("scatter_add", sdt.Message);
        var ssrc = Assert.Throws<ArgumentException>(() => x.ScatterAdd(0, Tensor.Zeros([2, 2], DType.I64), Tensor.Ones([1, 3])));
        Assert.Contains("scatter_add", ssrc.Message);
        Assert.Throws<ArgumentException>(() => x.ScatterAdd(0, Tensor.Zeros([1, 1], DType.Bool), src));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros([2], DType.I64).Gather(0, Tensor.Zeros([1], DType.I64)));
    }
}
