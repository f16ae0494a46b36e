using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Core.Reference;

namespace Engine.Tests.Core;

public class ViewTests
{
    private static double[] Iota(long n, double scale = 1) => Enumerable.Range(0, (int)n).Select(i => i * scale).ToArray();

    /// <summary>Reference permute: y[j] = x[i] with i[perm[k]] = j[k].</summary>
    private static double[] PermuteRef(double[] x, int[] shape, int[] perm)
    {
        var outShape = perm.Select(p => shape[p]).ToArray();
        var y = new double[x.Length];
        for (long f = 0; f < y.Length; f++)
        {
            var j = Unravel(f, outShape);
            var i = new int[shape.Length];
            for (int k = 0; k < perm.Length; k++) i[perm[k]] = j[k];
            y[f] = x[Ravel(i, shape)];
        }
        return y;
    }

    /// <summary>Python's slice(start, stop, step).indices(size) for a positive step.</summary>
    private static List<int> PySlice(int size, int? start, int? stop, int step)
    {
        int s = start ?? 0, e = stop ?? size;
        if (s < 0) s = Math.Max(0, s + size); else s = Math.Min(s, size);
        if (e < 0) e = Math.Max(0, e + size); else e = Math.Min(e, size);
        var r = new List<int>();
        for (int i = s; i < e; i += step) r.Add(i);
        return r;
    }

    /// <summary>Takes the given positions along one dimension (reference for slice/narrow/select/split).</summary>
    private static double[] TakeRef(double[] x, int[] shape, int dim, IReadOnlyList<int> positions, out int[] outShape)
    {
        outShape = (int[])shape.Clone();
        outShape[dim] = positions.Count;
        var y = new double[Count(outShape)];
        for (long f = 0; f < y.Length; f++)
        {
            var j = Unravel(f, outShape);
            j[dim] = positions[j[dim]];
            y[f] = x[Ravel(j, shape)];
        }
        return y;
    }

    [Fact]
    public void ViewOfContiguousSharesStorage()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(Iota(24), [2, 3, 4]);
        var v = x.View(4, 6);
        Assert.Same(x.Storage, v.Storage);
        Assert.Equal(new[] { 4, 6 }, v.Shape);
        Assert.Equal(Iota(24), v.ToArray<double>());
        var inferred = x.View(-1, 2);
        Assert.Equal(new[] { 12, 2 }, inferred.Shape);
        Assert.Same(x.Storage, inferred.Storage);
        var s = Tensor.FromArray(new double[] { 5 }, [1, 1]).View();
        Assert.Equal(0, s.Rank);
        Assert.Equal(5.0, s.Item());
    }

    [Fact]
    public void ViewErrors()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(Iota(12), [3, 4]);
        var e = Assert.Throws<ArgumentException>(() => x.View(5, -1));
        Assert.Contains("view", e.Message);
        Assert.Contains("[5, -1]", e.Message);
        Assert.Contains("12", e.Message);
        Assert.Throws<ArgumentException>(() => x.View(-1, -1));
        Assert.Throws<ArgumentException>(() => x.View(5, 3));
        Assert.Throws<ArgumentException>(() => x.View(-2, 6));
        // A transpose cannot be flattened without copying.
        var t = x.T;
        var ve = Assert.Throws<InvalidOperationException>(() => t.View(12));
        Assert.Contains("view", ve.Message);
        Assert.Contains("Reshape", ve.Message);
    }

    [Fact]
    public void ViewOfNonContiguousWhereStridesAllow()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(Iota(24), [2, 3, 4]);
        var p = x.Permute(1, 0, 2); // [3, 2, 4], strides [4, 12, 1]
        Assert.False(p.IsContiguous);
        // Splitting the contiguous last dimension is a view; merging dims 0 and 1 is not.
        var v = p.View(3, 2, 2, 2);
        Assert.Same(x.Storage, v.Storage);
        Assert.Equal(PermuteRef(Iota(24), [2, 3, 4], [1, 0, 2]), v.ToArray<double>());
        Assert.Throws<InvalidOperationException>(() => p.View(6, 4));
        // A column slice keeps rows separate: [3, 4] -> [:, 1:3] viewed as [3, 2, 1].
        var m = Tensor.FromArray(Iota(12), [3, 4]).Slice(1, 1, 3);
        var mv = m.View(3, 2, 1);
        Assert.Equal(new double[] { 1, 2, 5, 6, 9, 10 }, mv.ToArray<double>());
    }

    [Fact]
    public void ReshapeViewsWhenPossibleAndCopiesOtherwise()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(Iota(12), [3, 4]);
        var r = x.Reshape(2, -1);
        Assert.Same(x.Storage, r.Storage);
        Assert.Equal(new[] { 2, 6 }, r.Shape);
        var t = x.T;
        var c = t.Reshape(-1);
        Assert.NotSame(x.Storage, c.Storage);
        Assert.True(c.IsContiguous);
        Assert.Equal(PermuteRef(Iota(12), [3, 4], [1, 0]), c.ToArray<double>());
        // The copy is independent of the source.
        x.Fill(-1);
        Assert.Equal(PermuteRef(Iota(12), [3, 4], [1, 0]), c.ToArray<double>());
        var e = Assert.Throws<ArgumentException>(() => x.Reshape(7));
        Assert.Contains("reshape", e.Message);
    }

    [Fact]
    public void ReshapeWithZeroSizedDimensions()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 0, 3]);
        Assert.Equal(new[] { 0, 5 }, x.Reshape(0, 5).Shape);
        Assert.Equal(new[] { 6, 0 }, x.Reshape(6, 0).Shape);
        // -1 cannot be inferred next to a zero.
        Assert.Throws<ArgumentException>(() => x.Reshape(-1, 0));
    }

    [Fact]
    public void PermuteThenReshapeRoundTripsForRandomShapes()
    {
        var gen =
            from shape in ShapeGen(1, 4, 4)
            from perm in Gen.Shuffle(Enumerable.Range(0, shape.Length).ToArray())
            from kind in Gen.Elements(AllKinds)
            from seed in Gen.Choose(0, 1 << 30)
            select (shape, perm, kind, seed);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, perm, kind, seed) = c;
            var values = RandomDoubles(new System.Random(seed), Count(shape));
            var x = Strided(values, shape, DType.F64, kind);
            var y = x.Permute(perm);
            var expected = PermuteRef(values, shape, perm);
            Assert.Equal(expected, y.ToArray<double>());
            Assert.Same(x.Storage, y.Storage);
            // Flatten (view or copy), restore the permuted shape, undo the permutation.
            var inverse = new int[perm.Length];
            for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
            var flat = y.Reshape(-1);
            Assert.Equal(expected, flat.ToArray<double>());
            var back = flat.Reshape(y.Shape).Permute(inverse);
            Assert.Equal(shape, back.Shape);
            Assert.Equal(values, back.ToArray<double>());
            // A random regrouping of the elements into another shape keeps row-major order.
            var rng = new System.Random(seed + 1);
            var target = RandomFactorisation(Count(shape), rng);
            Assert.Equal(expected, y.Reshape(target).ToArray<double>());
            return true;
        }, 150);
    }

    private static int[] RandomFactorisation(long n, System.Random rng)
    {
        var dims = new List<int>();
        long rest = n;
        for (int f = 2; f <= rest; f++)
            while (rest % f == 0) { dims.Add(f); rest /= f; }
        // Group the prime factors randomly, shuffle, and sprinkle size-1 dims.
        var shape = new List<int>();
        foreach (var d in dims.OrderBy(_ => rng.Next()))
        {
            if (shape.Count > 0 && rng.Next(2) == 0) shape[^1] *= d;
            else shape.Add(d);
        }
        if (rng.Next(3) == 0) shape.Insert(rng.Next(shape.Count + 1), 1);
        return shape.ToArray();
    }

    [Fact]
    public void PermuteErrors()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3, 4]);
        var e = Assert.Throws<ArgumentException>(() => x.Permute(0, 1));
        Assert.Contains("permute", e.Message);
        Assert.Contains("[2, 3, 4]", e.Message);
        Assert.Throws<ArgumentException>(() => x.Permute(0, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Permute(0, 1, 3));
        Assert.Equal(new[] { 4, 2, 3 }, x.Permute(-1, 0, 1).Shape);
    }

    [Fact]
    public void TransposeAndT()
    {
        using var scope = Tensor.Scope();
        var values = Iota(24);
        var x = Tensor.FromArray(values, [2, 3, 4]);
        var t = x.Transpose(0, 2);
        Assert.Equal(new[] { 4, 3, 2 }, t.Shape);
        Assert.Equal(new long[] { 1, 4, 12 }, t.Strides);
        Assert.Equal(PermuteRef(values, [2, 3, 4], [2, 1, 0]), t.ToArray<double>());
        var mt = x.T; // batched matrix transpose
        Assert.Equal(new[] { 2, 4, 3 }, mt.Shape);
        Assert.Equal(PermuteRef(values, [2, 3, 4], [0, 2, 1]), mt.ToArray<double>());
        var v = Tensor.FromArray(new double[] { 1, 2, 3 });
        Assert.Equal(new[] { 3 }, v.T.Shape);
        Assert.Equal(new double[] { 1, 2, 3 }, v.T.ToArray<double>());
        Assert.Equal(new[] { 3, 2 }, Tensor.Zeros([2, 3]).Transpose(-1, -2).Shape);
    }

    [Fact]
    public void SliceMatchesPythonSlicing()
    {
        var gen =
            from shape in ShapeGen(1, 3, 6)
            from kind in Gen.Elements(AllKinds)
            from seed in Gen.Choose(0, 1 << 30)
            select (shape, kind, seed);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, kind, seed) = c;
            var rng = new System.Random(seed);
            var values = RandomDoubles(rng, Count(shape));
            var x = Strided(values, shape, DType.F64, kind);
            int dim = rng.Next(shape.Length);
            int size = shape[dim];
            int? start = rng.Next(4) == 0 ? null : rng.Next(-size - 3, size + 4);
            int? stop = rng.Next(4) == 0 ? null : rng.Next(-size - 3, size + 4);
            int step = rng.Next(1, 4);
            var y = x.Slice(rng.Next(2) == 0 ? dim : dim - shape.Length, start, stop, step);
            var expected = TakeRef(values, shape, dim, PySlice(size, start, stop, step), out var outShape);
            Assert.Equal(outShape, y.Shape);
            Assert.Equal(expected, y.ToArray<double>());
            Assert.Same(x.Storage, y.Storage);
            return true;
        }, 200);
    }

    [Fact]
    public void SliceIsAViewThatWritesThrough()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(Iota(10), [10]);
        var s = x.Slice(0, 1, 8, 3); // 1, 4, 7
        Assert.Equal(new double[] { 1, 4, 7 }, s.ToArray<double>());
        Assert.Equal(1, s.Offset);
        Assert.Equal(new long[] { 3 }, s.Strides);
        s.Fill(-5);
        Assert.Equal(new double[] { 0, -5, 2, 3, -5, 5, 6, -5, 8, 9 }, x.ToArray<double>());
        Assert.Equal(new[] { 0 }, x.Slice(0, 7, 3).Shape); // empty when start >= end
        Assert.Throws<ArgumentException>(() => x.Slice(0, 0, 5, 0));
        Assert.Throws<ArgumentException>(() => x.Slice(0, 0, 5, -1));
        Assert.Throws<ArgumentException>(() => Tensor.Scalar(1).Slice(0, 0, 1));
    }

    [Fact]
    public void NarrowAndSelect()
    {
        using var scope = Tensor.Scope();
        var values = Iota(24);
        foreach (var kind in AllKinds)
        {
            var x = Strided(values, [2, 3, 4], DType.F64, kind);
            var n = x.Narrow(2, 1, 2);
            Assert.Equal(TakeRef(values, [2, 3, 4], 2, [1, 2], out var ns), n.ToArray<double>());
            Assert.Equal(ns, n.Shape);
            var nn = x.Narrow(1, -2, 2); // negative start counts from the end
            Assert.Equal(TakeRef(values, [2, 3, 4], 1, [1, 2], out _), nn.ToArray<double>());
            var s = x.Select(1, -1);
            Assert.Equal(new[] { 2, 4 }, s.Shape);
            Assert.Equal(TakeRef(values, [2, 3, 4], 1, [2], out _), s.ToArray<double>());
            Assert.Same(x.Storage, s.Storage);
            var s0 = x.Select(0, 1).Select(0, 2).Select(0, 3);
            Assert.Equal(0, s0.Rank);
            Assert.Equal(values[1 * 12 + 2 * 4 + 3], s0.Item());
        }
        var y = Tensor.Zeros([2, 3]);
        var ne = Assert.Throws<ArgumentOutOfRangeException>(() => y.Narrow(1, 2, 2));
        Assert.Contains("narrow", ne.Message);
        var se = Assert.Throws<IndexOutOfRangeException>(() => y.Select(1, 3));
        Assert.Contains("select", se.Message);
        Assert.Throws<IndexOutOfRangeException>(() => y.Select(0, -3));
    }

    [Fact]
    public void SqueezeAndUnsqueeze()
    {
        using var scope = Tensor.Scope();
        var values = Iota(6);
        foreach (var kind in AllKinds)
        {
            var x = Strided(values, [1, 2, 1, 3, 1], DType.F64, kind);
            Assert.Equal(new[] { 2, 3 }, x.Squeeze().Shape);
            Assert.Equal(values, x.Squeeze().ToArray<double>());
            Assert.Equal(new[] { 1, 2, 3, 1 }, x.Squeeze(2).Shape);
            Assert.Equal(new[] { 1, 2, 1, 3 }, x.Squeeze(-1).Shape);
            Assert.Equal(new[] { 1, 2, 1, 3, 1 }, x.Squeeze(1).Shape); // not size 1: unchanged
            Assert.Same(x.Storage, x.Squeeze().Storage);

            var y = Strided(values, [2, 3], DType.F64, kind);
            Assert.Equal(new[] { 1, 2, 3 }, y.Unsqueeze(0).Shape);
            Assert.Equal(new[] { 2, 1, 3 }, y.Unsqueeze(1).Shape);
            Assert.Equal(new[] { 2, 3, 1 }, y.Unsqueeze(2).Shape);
            Assert.Equal(new[] { 2, 3, 1 }, y.Unsqueeze(-1).Shape);
            Assert.Equal(new[] { 1, 2, 3 }, y.Unsqueeze(-3).Shape);
            foreach (var d in new[] { 0, 1, 2 }) Assert.Equal(values, y.Unsqueeze(d).ToArray<double>());
            Assert.Throws<ArgumentOutOfRangeException>(() => y.Unsqueeze(3));
            Assert.Throws<ArgumentOutOfRangeException>(() => y.Unsqueeze(-4));
            Assert.Equal(y.IsContiguous, y.Unsqueeze(1).IsContiguous);
        }
        var s = Tensor.Scalar(3);
        Assert.Equal(new[] { 1 }, s.Unsqueeze(0).Shape);
        Assert.Equal(0, s.Squeeze().Rank);
        Assert.Equal(new int[0], Tensor.Zeros([1, 1]).Squeeze().Shape);
    }

    [Fact]
    public void Flatten()
    {
        using var scope = Tensor.Scope();
        var values = Iota(120);
        foreach (var kind in AllKinds)
        {
            var x = Strided(values, [2, 3, 4, 5], DType.F64, kind);
            Assert.Equal(new[] { 120 }, x.Flatten().Shape);
            Assert.Equal(values, x.Flatten().ToArray<double>());
            Assert.Equal(new[] { 2, 12, 5 }, x.Flatten(1, 2).Shape);
            Assert.Equal(values, x.Flatten(1, 2).ToArray<double>());
            Assert.Equal(new[] { 2, 3, 20 }, x.Flatten(-2).Shape);
            Assert.Equal(new[] { 2, 3, 4, 5 }, x.Flatten(2, 2).Shape);
            Assert.Throws<ArgumentException>(() => x.Flatten(2, 1));
        }
        Assert.Equal(new[] { 1 }, Tensor.Scalar(1).Flatten().Shape);
    }

    [Fact]
    public void ExpandUsesZeroStridesAndSharesStorage()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, [3, 1]);
        var e = x.Expand(2, 3, 4);
        Assert.Equal(new[] { 2, 3, 4 }, e.Shape);
        Assert.Equal(new long[] { 0, 1, 0 }, e.Strides);
        Assert.Same(x.Storage, e.Storage);
        Assert.False(e.IsContiguous);
        var expected = new double[24];
        for (int f = 0; f < 24; f++) expected[f] = 1 + Unravel(f, [2, 3, 4])[1];
        Assert.Equal(expected, e.ToArray<double>());
        // -1 keeps a size; BroadcastTo is the same operation.
        Assert.Equal(new[] { 3, 5 }, x.Expand(-1, 5).Shape);
        Assert.Equal(expected, x.BroadcastTo(2, 3, 4).ToArray<double>());
        // Writes through the source show in every broadcast position.
        x.Fill(7);
        Assert.All(e.ToArray<double>(), v => Assert.Equal(7.0, v));
    }

    [Fact]
    public void ExpandOfNonContiguousInput()
    {
        using var scope = Tensor.Scope();
        var values = Iota(6);
        foreach (var kind in AllKinds)
        {
            var x = Strided(values, [2, 1, 3], DType.F64, kind);
            var e = x.Expand(4, 2, 5, 3);
            var expected = new double[Count([4, 2, 5, 3])];
            for (long f = 0; f < expected.Length; f++) expected[f] = values[BroadcastSource(Unravel(f, [4, 2, 5, 3]), [2, 1, 3])];
            Assert.Equal(expected, e.ToArray<double>());
        }
    }

    [Fact]
    public void ExpandErrors()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3]);
        var e = Assert.Throws<ArgumentException>(() => x.Expand(4, 3));
        Assert.Contains("expand", e.Message);
        Assert.Contains("[4, 3]", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Throws<ArgumentException>(() => x.Expand(3));
        Assert.Throws<ArgumentException>(() => x.Expand(-1, 2, 3));
        Assert.Throws<ArgumentException>(() => x.BroadcastTo(2, 6));
        // More elements than a long counts (found by BadInputProperties): refused naming the op, not only the layout.
        var huge = Assert.Throws<ArgumentException>(() => Tensor.Scalar(1f).Expand(4, int.MaxValue, 1 << 20, int.MaxValue));
        Assert.StartsWith("expand:", huge.Message);
        Assert.Contains("more elements than a tensor can hold", huge.Message);
    }

    [Fact]
    public void ExpandToTheSameShapeStaysOnTheTape()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3], DType.F64).RequiresGradInPlace();
        var same = x.Expand(2, 3);
        Assert.True(same.RequiresGrad);
        Assert.False(same.IsLeaf);
        var alsoSame = x.Expand(-1, -1);
        Assert.True(alsoSame.RequiresGrad);
    }

    [Fact]
    public void ContiguousCopiesOnlyWhenNeeded()
    {
        using var scope = Tensor.Scope();
        var values = Iota(12);
        var x = Tensor.FromArray(values, [3, 4]);
        Assert.Same(x, x.Contiguous());
        // Size-1 dimensions with odd strides and offset views of contiguous data are still contiguous.
        var row = x.Narrow(0, 1, 1);
        Assert.True(row.IsContiguous);
        Assert.Same(row, row.Contiguous());
        foreach (var kind in new[] { Kind.Stepped, Kind.Permuted })
        {
            var y = Strided(values, [3, 4], DType.F64, kind);
            Assert.False(y.IsContiguous);
            var c = y.Contiguous();
            Assert.NotSame(y.Storage, c.Storage);
            Assert.True(c.IsContiguous);
            Assert.Equal(new long[] { 4, 1 }, c.Strides);
            Assert.Equal(0, c.Offset);
            Assert.Equal(values, c.ToArray<double>());
        }
        var b = Tensor.FromArray(new double[] { 1, 2 }, [2, 1]).Expand(2, 3);
        var bc = b.Contiguous();
        Assert.Equal(new double[] { 1, 1, 1, 2, 2, 2 }, bc.ToArray<double>());
        Assert.Equal(6, bc.Storage.Length);
    }

    [Fact]
    public void CatMatchesReferenceForRandomShapes()
    {
        var gen = ShapeAndSeed(1, 3, 4);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, seed) = c;
            var rng = new System.Random(seed);
            int dim = rng.Next(shape.Length);
            int pieces = rng.Next(1, 4);
            var parts = new List<(double[] Values, int[] Shape)>();
            var tensors = new List<Tensor>();
            for (int p = 0; p < pieces; p++)
            {
                var s = (int[])shape.Clone();
                s[dim] = rng.Next(0, 4);
                var v = RandomDoubles(rng, Count(s));
                parts.Add((v, s));
                tensors.Add(Strided(v, s, DType.F64, AllKinds[rng.Next(3)]));
            }
            var y = Tensor.Cat(tensors, rng.Next(2) == 0 ? dim : dim - shape.Length);
            var outShape = (int[])shape.Clone();
            outShape[dim] = parts.Sum(p => p.Shape[dim]);
            Assert.Equal(outShape, y.Shape);
            var expected = new double[Count(outShape)];
            for (long f = 0; f < expected.Length; f++)
            {
                var idx = Unravel(f, outShape);
                int k = 0;
                while (idx[dim] >= parts[k].Shape[dim]) { idx[dim] -= parts[k].Shape[dim]; k++; }
                expected[f] = parts[k].Values[Ravel(idx, parts[k].Shape)];
            }
            Assert.Equal(expected, y.ToArray<double>());
            return true;
        }, 150);
    }

    [Fact]
    public void CatErrors()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.Zeros([2, 3]);
        var b = Tensor.Zeros([3, 3]);
        var e = Assert.Throws<ArgumentException>(() => Tensor.Cat([a, b], 1));
        Assert.Contains("cat", e.Message);
        Assert.Contains("[3, 3]", e.Message);
        Assert.Equal(new[] { 5, 3 }, Tensor.Cat([a, b], 0).Shape);
        Assert.Throws<ArgumentException>(() => Tensor.Cat([a, Tensor.Zeros([2, 3], DType.F64)]));
        Assert.Throws<ArgumentException>(() => Tensor.Cat([a, Tensor.Zeros([2, 3, 1])]));
        Assert.Throws<ArgumentException>(() => Tensor.Cat(Array.Empty<Tensor>()));
        Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Scalar(1), Tensor.Scalar(2)]));
    }

    [Fact]
    public void StackMatchesReference()
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(5);
        int[] shape = [2, 3];
        var parts = Enumerable.Range(0, 4).Select(_ => RandomDoubles(rng, 6)).ToArray();
        var tensors = parts.Select((v, i) => Strided(v, shape, DType.F64, AllKinds[i % 3])).ToArray();
        for (int dim = 0; dim <= 2; dim++)
        {
            var y = Tensor.Stack(tensors, dim);
            var outShape = shape.ToList();
            outShape.Insert(dim, 4);
            Assert.Equal(outShape.ToArray(), y.Shape);
            var expected = new double[24];
            for (long f = 0; f < 24; f++)
            {
                var idx = Unravel(f, outShape.ToArray()).ToList();
                int k = idx[dim];
                idx.RemoveAt(dim);
                expected[f] = parts[k][Ravel(idx.ToArray(), shape)];
            }
            Assert.Equal(expected, y.ToArray<double>());
        }
        Assert.Equal(new[] { 2, 3, 4 }, Tensor.Stack(tensors, -1).Shape);
        var e = Assert.Throws<ArgumentException>(() => Tensor.Stack([tensors[0], Tensor.Zeros([3, 2], DType.F64)]));
        Assert.Contains("stack", e.Message);
        Assert.Contains("[3, 2]", e.Message);
    }

    [Fact]
    public void SplitAndChunkAreViewsCoveringTheInput()
    {
        using var scope = Tensor.Scope();
        var values = Iota(35);
        foreach (var kind in AllKinds)
        {
            var x = Strided(values, [5, 7], DType.F64, kind);
            var pieces = x.Split(3, 1);
            Assert.Equal(new[] { 3, 3, 1 }, pieces.Select(p => p.Size(1)).ToArray());
            int at = 0;
            foreach (var p in pieces)
            {
                Assert.Same(x.Storage, p.Storage);
                Assert.Equal(TakeRef(values, [5, 7], 1, Enumerable.Range(at, p.Size(1)).ToList(), out _), p.ToArray<double>());
                at += p.Size(1);
            }
            var sized = x.Split([1, 0, 4], 0);
            Assert.Equal(new[] { 1, 0, 4 }, sized.Select(p => p.Size(0)).ToArray());
            Assert.Equal(TakeRef(values, [5, 7], 0, [1, 2, 3, 4], out _), sized[2].ToArray<double>());

            // chunk: split size ceil(n / chunks); fewer pieces when that covers the dimension.
            Assert.Equal(new[] { 2, 2, 1 }, x.Chunk(3, 0).Select(p => p.Size(0)).ToArray());
            Assert.Equal(new[] { 2, 2, 2, 1 }, x.Chunk(4, 1).Select(p => p.Size(1)).ToArray());
            Assert.Equal(new[] { 3, 3, 1 }, x.Chunk(3, -1).Select(p => p.Size(1)).ToArray()); // torch.chunk(7 elems, 3): 3, 3, 1
            Assert.Equal(new[] { 1, 1, 1, 1, 1 }, x.Chunk(9, 0).Select(p => p.Size(0)).ToArray());
            Assert.Equal(values, Tensor.Cat(x.Chunk(4, 1), 1).ToArray<double>());
        }
        var bad = Assert.Throws<ArgumentException>(() => Tensor.Zeros([4]).Split([1, 2]));
        Assert.Contains("split", bad.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Zeros([4]).Split(0));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros([4]).Chunk(0));
    }

    [Fact]
    public void ChunkOfAnEmptyDimensionGivesChunksEmptyPieces()
    {
        using var scope = Tensor.Scope();
        // torch.empty(0, 2).chunk(3) returns three (0, 2) tensors.
        var pieces = Tensor.Zeros([0, 2]).Chunk(3);
        Assert.Equal(3, pieces.Length);
        Assert.All(pieces, p => Assert.Equal(new[] { 0, 2 }, p.Shape));
        // torch.empty(0).split(2) returns one empty tensor.
        Assert.Single(Tensor.Zeros([0]).Split(2));
    }

    [Fact]
    public void PadMatchesReferenceIncludingNegativeCropping()
    {
        var gen = ShapeAndSeed(1, 3, 5);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, seed) = c;
            var rng = new System.Random(seed);
            int padded = rng.Next(1, shape.Length + 1);
            var pad = new int[2 * padded];
            for (int i = 0; i < padded; i++)
            {
                int size = shape[shape.Length - 1 - i];
                // Crops never exceed the dimension together, as F.pad requires.
                int before = rng.Next(-size, 3), after = rng.Next(-(size - Math.Max(0, -before)), 3);
                pad[2 * i] = before;
                pad[2 * i + 1] = after;
            }
            var values = RandomDoubles(rng, Count(shape));
            var x = Strided(values, shape, DType.F64, AllKinds[rng.Next(3)]);
            double fill = rng.Next(3) - 1.5;
            var y = x.Pad(pad, fill);
            var outShape = (int[])shape.Clone();
            var lo = new int[shape.Length];
            for (int i = 0; i < padded; i++)
            {
                int d = shape.Length - 1 - i;
                outShape[d] += pad[2 * i] + pad[2 * i + 1];
                lo[d] = pad[2 * i];
            }
            Assert.Equal(outShape, y.Shape);
            var expected = new double[Count(outShape)];
            for (long f = 0; f < expected.Length; f++)
            {
                var idx = Unravel(f, outShape);
                bool inside = true;
                for (int d = 0; d < shape.Length; d++)
                {
                    idx[d] -= lo[d];
                    inside &= idx[d] >= 0 && idx[d] < shape[d];
                }
                expected[f] = inside ? values[Ravel(idx, shape)] : fill;
            }
            Assert.Equal(expected, y.ToArray<double>());
            return true;
        }, 200);
    }

    [Fact]
    public void PadErrors()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3]);
        Assert.Throws<ArgumentException>(() => x.Pad([1]));
        Assert.Throws<ArgumentException>(() => x.Pad([1, 1, 1, 1, 1, 1]));
        var e = Assert.Throws<ArgumentException>(() => x.Pad([-2, -2]));
        Assert.Contains("pad", e.Message);
        Assert.Equal(new[] { 2, 0 }, x.Pad([-2, -1]).Shape);
    }

    [Fact]
    public void ViewsOfViewsComposeOffsets()
    {
        using var scope = Tensor.Scope();
        var values = Iota(60);
        var x = Tensor.FromArray(values, [3, 4, 5]);
        var v = x.Slice(2, 1, 5, 2).Permute(2, 0, 1).Select(1, 2).Slice(1, 1, null, 2); // [2, 2]
        // Reference: v[a][b] = x[2][1 + 2 * b][1 + 2 * a]
        var expected = new List<double>();
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                expected.Add(values[2 * 20 + (1 + 2 * b) * 5 + 1 + 2 * a]);
        Assert.Equal(new[] { 2, 2 }, v.Shape);
        Assert.Equal(expected, v.ToArray<double>());
        Assert.Same(x.Storage, v.Storage);
    }
}
