using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Core.Reference;

namespace Engine.Tests.Core;

public class ElementwiseTests
{
    /// <summary>A unary op, its Math and MathF references, the input range it is tested on, and whether results must be bit-identical.</summary>
    public sealed record UnaryCase(string Name, Func<Tensor, Tensor> Op, Func<double, double> F64, Func<float, float> F32, double Lo, double Hi, bool Exact)
    {
        public override string ToString() => Name;
    }

    private static readonly UnaryCase[] Unaries =
    [
        new("neg", x => x.Neg(), v => -v, v => -v, -5, 5, true),
        new("operator-", x => -x, v => -v, v => -v, -5, 5, true),
        new("exp", x => x.Exp(), Math.Exp, MathF.Exp, -20, 20, false),
        new("log", x => x.Log(), Math.Log, MathF.Log, 1e-3, 1e3, false),
        new("sqrt", x => x.Sqrt(), Math.Sqrt, MathF.Sqrt, 0, 100, true),
        new("rsqrt", x => x.Rsqrt(), v => 1 / Math.Sqrt(v), v => 1 / MathF.Sqrt(v), 1e-3, 100, true),
        new("abs", x => x.Abs(), Math.Abs, MathF.Abs, -5, 5, true),
        new("sin", x => x.Sin(), Math.Sin, MathF.Sin, -10, 10, false),
        new("cos", x => x.Cos(), Math.Cos, MathF.Cos, -10, 10, false),
        new("tanh", x => x.Tanh(), Math.Tanh, MathF.Tanh, -6, 6, false),
        new("sigmoid", x => x.Sigmoid(), v => 1 / (1 + Math.Exp(-v)), v => 1 / (1 + MathF.Exp(-v)), -30, 30, false),
        new("relu", x => x.Relu(), v => Math.Max(v, 0), v => MathF.Max(v, 0), -5, 5, true),
        new("reciprocal", x => x.Reciprocal(), v => 1 / v, v => 1 / v, 0.01, 10, true),
        new("clamp(-1, 2)", x => x.Clamp(-1, 2), v => Math.Clamp(v, -1, 2), v => Math.Clamp(v, -1f, 2f), -5, 5, true),
        new("clamp(min 0.5)", x => x.Clamp(min: 0.5), v => Math.Max(v, 0.5), v => MathF.Max(v, 0.5f), -5, 5, true),
        new("clamp(max -0.5)", x => x.Clamp(max: -0.5), v => Math.Min(v, -0.5), v => MathF.Min(v, -0.5f), -5, 5, true),
        new("pow 2", x => x.Pow(2), v => v * v, v => v * v, -5, 5, true),
        new("pow 3", x => x.Pow(3), v => Math.Pow(v, 3), v => MathF.Pow(v, 3), -5, 5, true),
        new("pow 0.5", x => x.Pow(0.5), v => Math.Pow(v, 0.5), v => MathF.Pow(v, 0.5f), 0, 9, true),
        new("pow -1.5", x => x.Pow(-1.5), v => Math.Pow(v, -1.5), v => MathF.Pow(v, -1.5f), 0.1, 9, true),
        new("affine(2.5, -1)", x => x.Affine(2.5, -1), v => v * 2.5 - 1, v => v * 2.5f - 1f, -5, 5, true),
        new("add 0.1", x => x.Add(0.1), v => v + 0.1, v => v + 0.1f, -5, 5, true),
        new("mul -3.7", x => x.Mul(-3.7), v => v * -3.7, v => v * -3.7f, -5, 5, true),
        new("x + s", x => x + 1.25, v => v + 1.25, v => v + 1.25f, -5, 5, true),
        new("s + x", x => 1.25 + x, v => 1.25 + v, v => 1.25f + v, -5, 5, true),
        new("x - s", x => x - 0.3, v => v - 0.3, v => v - 0.3f, -5, 5, true),
        new("s - x", x => 0.3 - x, v => 0.3 - v, v => 0.3f - v, -5, 5, true),
        new("x * s", x => x * 0.7, v => v * 0.7, v => v * 0.7f, -5, 5, true),
        new("s * x", x => 0.7 * x, v => 0.7 * v, v => 0.7f * v, -5, 5, true),
        new("x / s", x => x / 3.0, v => v / 3.0, v => v / 3f, -5, 5, true),
        new("s / x", x => 3.0 / x, v => 3.0 / v, v => 3f / v, 0.1, 5, true),
    ];

    public static TheoryData<UnaryCase, DType, Kind> UnaryCases()
    {
        var data = new TheoryData<UnaryCase, DType, Kind>();
        foreach (var u in Unaries)
            foreach (var dt in new[] { DType.F32, DType.F64 })
                foreach (var kind in AllKinds)
                    data.Add(u, dt, kind);
        return data;
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryMatchesMathReference(UnaryCase op, DType dtype, Kind kind)
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(op.Name.Length * 31 + (int)dtype * 7 + (int)kind);
        int[] shape = [7, 37]; // long enough for the SIMD paths, odd to leave remainders
        var values = RandomF32Doubles(rng, Count(shape), op.Lo, op.Hi);
        var x = Strided(values, shape, dtype, kind);
        var y = op.Op(x);
        Assert.Equal(shape, y.Shape);
        Assert.Equal(dtype, y.DType);
        Assert.True(y.IsContiguous);
        if (dtype == DType.F64)
        {
            var expected = values.Select(op.F64).ToArray();
            if (op.Exact) Bitwise(expected, y.ToArray<double>(), op.Name);
            else Close(expected, y.ToArray<double>(), 1e-14, 1e-300, op.Name);
        }
        else
        {
            var expected = values.Select(v => (double)op.F32((float)v)).ToArray();
            if (op.Exact) Bitwise(expected, y.ToArray<double>(), op.Name);
            else Close(expected, y.ToArray<double>(), 1e-6, 1e-37, op.Name);
        }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void UnarySpecialValues(DType dtype)
    {
        using var scope = Tensor.Scope();
        double nan = double.NaN, inf = double.PositiveInfinity;
        double[] x = [0, -0.0, -1, inf, -inf, nan, 1000, -1000];
        Func<Func<double, double>, Func<float, float>, double, double> at = (d, f, v) => dtype == DType.F32 ? f((float)v) : d(v);
        var near = new ToleranceComparer(dtype == DType.F32 ? 1e-6 : 1e-14);
        foreach (var kind in AllKinds)
        {
            var t = Strided(x, [8], dtype, kind);
            Bitwise(x, t.ToArray<double>(), "identity");
            Bitwise([-inf, -inf, nan, inf, nan, nan, at(Math.Log, MathF.Log, 1000), nan], t.Log().ToArray<double>(), "log");
            Assert.Equal([1, 1, at(Math.Exp, MathF.Exp, -1), inf, 0, nan, inf, 0], t.Exp().ToArray<double>(), near);
            Bitwise([0, -0.0, nan, inf, nan, nan, at(Math.Sqrt, MathF.Sqrt, 1000), nan], t.Sqrt().ToArray<double>(), "sqrt");
            Bitwise([inf, -inf, -1, 0, -0.0, nan, at(v => 1 / v, v => 1 / v, 1000), at(v => 1 / v, v => 1 / v, -1000)], t.Reciprocal().ToArray<double>(), "reciprocal");
            Assert.Equal([0, 0, 0, inf, 0, nan, 1000, 0], t.Relu().ToArray<double>(), near);
            Bitwise([0, 0, 1, inf, inf, nan, 1000, 1000], t.Abs().ToArray<double>(), "abs");
            Assert.Equal([0, -0.0, at(Math.Tanh, MathF.Tanh, -1), 1, -1, nan, 1, -1], t.Tanh().ToArray<double>(), near);
            // Sigmoid never overflows: exactly 1 and 0 at the extremes, 0.5 at zero.
            Bitwise([0.5, 0.5, at(v => Math.Exp(v) / (1 + Math.Exp(v)), v => MathF.Exp(v) / (1 + MathF.Exp(v)), -1), 1, 0, nan, 1, at(v => Math.Exp(v) / (1 + Math.Exp(v)), v => MathF.Exp(v) / (1 + MathF.Exp(v)), -1000)],
                t.Sigmoid().ToArray<double>(), "sigmoid");
            Bitwise([0, -0.0, -1, 2, -1, nan, 2, -1], t.Clamp(-1, 2).ToArray<double>(), "clamp");
        }
    }

    private sealed class ToleranceComparer(double tol) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => (double.IsNaN(a) && double.IsNaN(b)) || a == b || Math.Abs(a - b) <= tol * Math.Max(1, Math.Abs(a));
        public int GetHashCode(double v) => 0;
    }

    [Fact]
    public void ClampWithMinAboveMaxGivesMax()
    {
        using var scope = Tensor.Scope();
        // torch.clamp(x, min=2, max=1) is 1 everywhere.
        var y = Tensor.FromArray(new double[] { -3, 1.5, 5 }).Clamp(2, 1);
        Assert.Equal(new double[] { 1, 1, 1 }, y.ToArray<double>());
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2]).Clamp());
        Assert.Contains("clamp", e.Message);
    }

    [Fact]
    public void ScalarMultiplicationKeepsTheSignOfZeroOnEveryPath()
    {
        using var scope = Tensor.Scope();
        // 0 * -2 is -0 in IEEE arithmetic (and in PyTorch); contiguous and strided kernels must agree.
        var values = new double[] { 0, 1, -0.0, 2 };
        foreach (var kind in AllKinds)
        {
            var x = Strided(values, [2, 2], DType.F64, kind);
            Bitwise(values.Select(v => v * -2).ToArray(), (x * -2).ToArray<double>(), $"x * -2 ({kind})");
            Bitwise(values.Select(v => v + 0.0).ToArray(), (x + 0.0).ToArray<double>(), $"x + 0 ({kind})");
        }
    }

    [Fact]
    public void UnaryOpsRejectIntegerTensors()
    {
        using var scope = Tensor.Scope();
        var i = Tensor.FromArray(new long[] { 1, 2 });
        var e = Assert.Throws<ArgumentException>(() => i.Exp());
        Assert.Contains("exp", e.Message);
        Assert.Contains("torch.int64", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(new[] { true }).Neg());
    }

    /// <summary>A binary op with references computed in float and in double.</summary>
    public sealed record BinaryCase(string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, double> F64, Func<float, float, float> F32, bool PositiveLeft = false)
    {
        public override string ToString() => Name;
    }

    private static readonly BinaryCase[] Binaries =
    [
        new("add", (a, b) => a + b, (x, y) => x + y, (x, y) => x + y),
        new("sub", (a, b) => a - b, (x, y) => x - y, (x, y) => x - y),
        new("mul", (a, b) => a * b, (x, y) => x * y, (x, y) => x * y),
        new("div", (a, b) => a / b, (x, y) => x / y, (x, y) => x / y),
        new("Add()", (a, b) => a.Add(b), (x, y) => x + y, (x, y) => x + y),
        new("Div()", (a, b) => a.Div(b), (x, y) => x / y, (x, y) => x / y),
        new("pow", (a, b) => a.Pow(b), Math.Pow, MathF.Pow, PositiveLeft: true),
        new("maximum", Tensor.Maximum, Math.Max, MathF.Max),
        new("minimum", Tensor.Minimum, Math.Min, MathF.Min),
    ];

    public static TheoryData<BinaryCase, DType> BinaryCases()
    {
        var data = new TheoryData<BinaryCase, DType>();
        foreach (var b in Binaries)
            foreach (var dt in new[] { DType.F32, DType.F64 })
                data.Add(b, dt);
        return data;
    }

    /// <summary>Two shapes that broadcast: drop leading dims of an output shape and set random dims to 1.</summary>
    private static int[] Shrink(int[] outShape, System.Random rng)
    {
        int drop = rng.Next(outShape.Length + 1);
        if (rng.Next(3) > 0) drop = 0;
        return outShape.Skip(drop).Select(d => rng.Next(3) == 0 ? 1 : d).ToArray();
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryBroadcastsLikeTheIndexReference(BinaryCase op, DType dtype)
    {
        var gen =
            from outShape in ShapeGen(0, 4, 4)
            from seed in Gen.Choose(0, 1 << 30)
            select (outShape, seed);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var rng = new System.Random(c.seed);
            var aShape = Shrink(c.outShape, rng);
            var bShape = Shrink(c.outShape, rng);
            if (rng.Next(2) == 0) (aShape, bShape) = (bShape, aShape);
            var av = RandomF32Doubles(rng, Count(aShape), op.PositiveLeft ? 0.1 : -4, 4);
            var bv = RandomF32Doubles(rng, Count(bShape), -4, 4);
            var a = Strided(av, aShape, dtype, AllKinds[rng.Next(3)]);
            var b = Strided(bv, bShape, dtype, AllKinds[rng.Next(3)]);
            var z = op.Op(a, b);
            var outShape = BroadcastShape(aShape, bShape);
            Assert.Equal(outShape, z.Shape);
            Assert.Equal(dtype, z.DType);
            var expected = new double[Count(outShape)];
            for (long f = 0; f < expected.Length; f++)
            {
                var idx = Unravel(f, outShape);
                double x = av[BroadcastSource(idx, aShape)], y = bv[BroadcastSource(idx, bShape)];
                expected[f] = dtype == DType.F64 ? op.F64(x, y) : op.F32((float)x, (float)y);
            }
            Bitwise(expected, z.ToArray<double>(), $"{op.Name} {Layout.Format(aShape)} with {Layout.Format(bShape)}");
            return true;
        }, 60);
    }

    [Fact]
    public void BinaryOnLargeContiguousAndScalarOperandsUsesTheSameArithmetic()
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(3);
        var av = RandomDoubles(rng, 100_003);
        var bv = RandomDoubles(rng, 100_003);
        var a = Tensor.FromArray(av);
        var b = Tensor.FromArray(bv);
        Bitwise(av.Zip(bv, (x, y) => x * y).ToArray(), (a * b).ToArray<double>());
        Bitwise(av.Zip(bv, (x, y) => x / y).ToArray(), (a / b).ToArray<double>());
        var s = Tensor.Scalar(1.7, DType.F64);
        Bitwise(av.Select(x => x - 1.7).ToArray(), (a - s).ToArray<double>());
        Bitwise(av.Select(x => 1.7 - x).ToArray(), (s - a).ToArray<double>());
    }

    [Fact]
    public void BinaryShapeMismatchNamesTheOperationAndShapes()
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]) + Tensor.Zeros([4]));
        Assert.Contains("add", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4]", e.Message);
    }

    [Fact]
    public void DivisionByZeroFollowsIeee()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.FromArray(new double[] { 1, -1, 0, 0 });
        var b = Tensor.FromArray(new double[] { 0, 0, 0, -0.0 });
        var z = (a / b).ToArray<double>();
        Assert.Equal(double.PositiveInfinity, z[0]);
        Assert.Equal(double.NegativeInfinity, z[1]);
        Assert.True(double.IsNaN(z[2]) && double.IsNaN(z[3]));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void MaximumAndMinimumPropagateNaN(DType dtype)
    {
        using var scope = Tensor.Scope();
        double nan = double.NaN;
        foreach (var kind in AllKinds)
        {
            var a = Strided([nan, 1, nan, -2, 3], [5], dtype, kind);
            var b = Strided([1, nan, nan, 5, -3], [5], dtype, kind);
            var mx = Tensor.Maximum(a, b).ToArray<double>();
            var mn = Tensor.Minimum(a, b).ToArray<double>();
            for (int i = 0; i < 3; i++)
            {
                Assert.True(double.IsNaN(mx[i]), $"maximum {i}");
                Assert.True(double.IsNaN(mn[i]), $"minimum {i}");
            }
            Assert.Equal(new double[] { 5, 3 }, mx[3..]);
            Assert.Equal(new double[] { -2, -3 }, mn[3..]);
        }
    }

    private static readonly (string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, bool> Ref)[] Comparisons =
    [
        ("eq", (a, b) => a.Eq(b), (x, y) => x == y),
        ("ne", (a, b) => a.Ne(b), (x, y) => x != y),
        ("gt", (a, b) => a.Gt(b), (x, y) => x > y),
        ("ge", (a, b) => a.Ge(b), (x, y) => x >= y),
        ("lt", (a, b) => a.Lt(b), (x, y) => x < y),
        ("le", (a, b) => a.Le(b), (x, y) => x <= y),
    ];

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    public void ComparisonsBroadcastAndGiveBool(DType dtype)
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(9);
        int[] aShape = [3, 1, 4], bShape = [5, 1];
        // Small integers so that equal values occur often; NaN included for the float dtypes.
        var av = Enumerable.Range(0, 12).Select(_ => (double)rng.Next(-2, 3)).ToArray();
        var bv = Enumerable.Range(0, 5).Select(_ => (double)rng.Next(-2, 3)).ToArray();
        if (dtype != DType.I64) { av[5] = double.NaN; bv[2] = double.NaN; }
        foreach (var kind in AllKinds)
        {
            var a = Strided(av, aShape, dtype, kind);
            var b = Strided(bv, bShape, dtype, kind);
            int[] outShape = [3, 5, 4];
            foreach (var (name, op, reference) in Comparisons)
            {
                var z = op(a, b);
                Assert.Equal(DType.Bool, z.DType);
                Assert.Equal(outShape, z.Shape);
                var expected = new bool[Count(outShape)];
                for (long f = 0; f < expected.Length; f++)
                {
                    var idx = Unravel(f, outShape);
                    expected[f] = reference(av[BroadcastSource(idx, aShape)], bv[BroadcastSource(idx, bShape)]);
                }
                Assert.True(expected.SequenceEqual(z.ToArray<bool>()), $"{name} ({kind})");
            }
        }
    }

    [Fact]
    public void ScalarComparisons()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { -1, 0, 0.5, 2, double.NaN });
        Assert.Equal(new[] { false, false, true, true, false }, x.Gt(0).ToArray<bool>());
        Assert.Equal(new[] { true, false, false, false, false }, x.Lt(0).ToArray<bool>());
        Assert.Equal(new[] { false, false, true, false, false }, x.Eq(0.5).ToArray<bool>());
        var f = Tensor.FromArray(new float[] { 0.1f });
        // The scalar is converted to the tensor's dtype first: 0.1f == (float)0.1.
        Assert.True(f.Eq(0.1).ToArray<bool>()[0]);
        var bools = Tensor.FromArray(new[] { true, false });
        Assert.Equal(new[] { true, false }, bools.Eq(Tensor.FromArray(new[] { true, true })).ToArray<bool>());
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    public void WhereBroadcastsAllThree(DType dtype)
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(4);
        int[] cShape = [2, 1, 3], xShape = [4, 1], yShape = [3];
        var cv = Enumerable.Range(0, 6).Select(_ => (double)rng.Next(2)).ToArray();
        var xv = Enumerable.Range(0, 4).Select(i => (double)(i + 1)).ToArray();
        var yv = new double[] { -1, -2, -3 };
        foreach (var kind in AllKinds)
        {
            var cond = Strided(cv, cShape, DType.Bool, kind);
            var z = Tensor.Where(cond, Strided(xv, xShape, dtype, kind), Strided(yv, yShape, dtype, kind));
            int[] outShape = [2, 4, 3];
            Assert.Equal(outShape, z.Shape);
            Assert.Equal(dtype, z.DType);
            var expected = new double[24];
            for (long f = 0; f < 24; f++)
            {
                var idx = Unravel(f, outShape);
                expected[f] = cv[BroadcastSource(idx, cShape)] != 0 ? xv[BroadcastSource(idx, xShape)] : yv[BroadcastSource(idx, yShape)];
            }
            Assert.Equal(expected, z.ToArray<double>());
        }
        var e = Assert.Throws<ArgumentException>(() => Tensor.Where(Tensor.Zeros([3]), Tensor.Zeros([3]), Tensor.Zeros([3])));
        Assert.Contains("where", e.Message);
    }

    [Fact]
    public void MaskedFillReplacesWhereTheMaskIsTrue()
    {
        using var scope = Tensor.Scope();
        var values = Enumerable.Range(0, 12).Select(i => (double)i).ToArray();
        var mask = Tensor.FromArray(new[] { true, false, false, true }, [1, 4]);
        foreach (var kind in AllKinds)
        {
            var x = Strided(values, [3, 4], DType.F64, kind);
            var y = x.MaskedFill(mask, double.NegativeInfinity);
            var expected = values.Select((v, i) => i % 4 is 0 or 3 ? double.NegativeInfinity : v).ToArray();
            Assert.Equal(expected, y.ToArray<double>());
            Assert.Equal(values, x.ToArray<double>()); // out of place
        }
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([4]).MaskedFill(Tensor.FromArray(new[] { true, false, true }, [3]), 1));
        Assert.Contains("masked_fill", e.Message);
        Assert.Contains("[3]", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Zeros([4]).MaskedFill(Tensor.Zeros([4]), 1));
    }

    [Fact]
    public void MaskedFillBroadcastsTheTensorAndTheMaskTogether()
    {
        // Out-of-place masked_fill is where(mask, value, x): the result takes the broadcast of both shapes,
        // so a mask larger than x is fine (x of shape (1, 2) with a (2, 2) mask gives (2, 2)).
        using (Tensor.Scope())
        {
            var x = Tensor.FromArray(new double[] { 1, 2 }, [1, 2]);
            var y = x.MaskedFill(Tensor.FromArray(new[] { true, false, false, true }, [2, 2]), 9);
            Assert.Equal(new[] { 2, 2 }, y.Shape);
            Assert.Equal(new double[] { 9, 2, 1, 9 }, y.ToArray<double>());
        }
        var gen = from a in ShapeGen(0, 3, 3)
                  from b in ShapeGen(0, 3, 3)
                  from seed in Gen.Choose(0, 1 << 30)
                  select (a, b, seed);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (a, b, seed) = c;
            var rng = new System.Random(seed);
            // Turn b into a shape that broadcasts with a: each aligned dim either matches a's or is 1.
            for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
                if (b[^(i + 1)] != a[^(i + 1)] && a[^(i + 1)] != 1) b[^(i + 1)] = rng.Next(2) == 0 ? 1 : a[^(i + 1)];
            var xs = RandomDoubles(rng, Count(a));
            var ms = Enumerable.Range(0, (int)Count(b)).Select(_ => rng.Next(2) == 0).ToArray();
            var x = Strided(xs, a, DType.F64, AllKinds[rng.Next(3)]);
            var mask = Tensor.FromArray(ms, b);
            var y = x.MaskedFill(mask, -7);
            var shape = BroadcastShape(a, b);
            Assert.Equal(shape, y.Shape);
            var expected = new double[Count(shape)];
            for (long f = 0; f < expected.Length; f++)
            {
                var idx = Unravel(f, shape);
                expected[f] = ms[BroadcastSource(idx, b)] ? -7 : xs[BroadcastSource(idx, a)];
            }
            Assert.Equal(expected, y.ToArray<double>());
            return true;
        }, 150);
    }

    [Fact]
    public void InPlaceOperationsWriteValuesAndBumpTheVersion()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var view = x.T; // shares storage and version counter
        int v0 = x.Storage.Version;

        x.AddInPlace(Tensor.FromArray(new double[] { 10, 20, 30 }));
        Assert.Equal(new double[] { 11, 22, 33, 14, 25, 36 }, x.ToArray<double>());
        Assert.Equal(v0 + 1, x.Storage.Version);

        x.AddInPlace(Tensor.FromArray(new double[] { 1, 2 }, [2, 1]), alpha: -2);
        Assert.Equal(new double[] { 9, 20, 31, 10, 21, 32 }, x.ToArray<double>());
        Assert.Equal(v0 + 2, x.Storage.Version);

        x.MulInPlace(0.5);
        Assert.Equal(new double[] { 4.5, 10, 15.5, 5, 10.5, 16 }, x.ToArray<double>());
        Assert.Equal(v0 + 3, x.Storage.Version);

        x.CopyFrom(Tensor.FromArray(new long[] { 7, 8, 9 }));
        Assert.Equal(new double[] { 7, 8, 9, 7, 8, 9 }, x.ToArray<double>());
        Assert.Equal(v0 + 4, x.Storage.Version);

        view.Fill(-1); // through the view
        Assert.All(x.ToArray<double>(), v => Assert.Equal(-1.0, v));
        Assert.Equal(v0 + 5, x.Storage.Version);
        Assert.Equal(x.Storage.Version, view.Storage.Version);

        x.ZeroInPlace();
        Assert.Equal(v0 + 6, x.Storage.Version);
        Assert.All(view.ToArray<double>(), v => Assert.Equal(0.0, v));

        // An out-of-place op reads but does not bump.
        using var y = x + x;
        Assert.Equal(v0 + 6, x.Storage.Version);
    }

    [Fact]
    public void InPlaceOperationsOnNonContiguousViewsTouchOnlyTheirElements()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([4, 4], DType.F64);
        var cols = x.Slice(1, 1, null, 2); // columns 1 and 3
        cols.Fill(1);
        cols.AddInPlace(Tensor.FromArray(new double[] { 10, 20 }));
        cols.MulInPlace(2);
        var diag = new double[16];
        for (int r = 0; r < 4; r++) { diag[r * 4 + 1] = 22; diag[r * 4 + 3] = 42; }
        Assert.Equal(diag, x.ToArray<double>());
        var t = x.T.Narrow(0, 0, 2); // rows 0..1 of the transpose = columns 0..1 of x
        t.CopyFrom(Tensor.FromArray(new double[] { 5, 6, 7, 8, 1, 2, 3, 4 }, [2, 4]));
        Assert.Equal(new double[] { 5, 1, 0, 42, 6, 2, 0, 42, 7, 3, 0, 42, 8, 4, 0, 42 }, x.ToArray<double>());
    }

    [Fact]
    public void InPlaceErrors()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([3], DType.F64);
        var e = Assert.Throws<ArgumentException>(() => x.AddInPlace(Tensor.Zeros([2, 3], DType.F64)));
        Assert.Contains("add_", e.Message);
        Assert.Throws<ArgumentException>(() => x.AddInPlace(Tensor.Zeros([3], DType.F32)));
        var i = Tensor.FromArray(new long[] { 1, 2, 3 });
        Assert.Throws<ArgumentException>(() => i.MulInPlace(2));
        Assert.Equal(new long[] { 1, 2, 3 }, i.ToArray<long>());
        var leaf = Tensor.Zeros([3], DType.F64).RequiresGradInPlace();
        var le = Assert.Throws<InvalidOperationException>(() => leaf.Fill(1));
        Assert.Contains("fill_", le.Message);
    }

    [Fact]
    public void FillAndCopyFromConvertDTypes()
    {
        using var scope = Tensor.Scope();
        var i = Tensor.Zeros([3], DType.I64);
        i.Fill(-2.9);
        Assert.Equal(new long[] { -2, -2, -2 }, i.ToArray<long>());
        i.CopyFrom(Tensor.FromArray(new double[] { 1.9, -1.9, 3 }));
        Assert.Equal(new long[] { 1, -1, 3 }, i.ToArray<long>());
        var b = Tensor.Zeros([2], DType.Bool);
        b.CopyFrom(Tensor.FromArray(new float[] { 0, 0.5f }));
        Assert.Equal(new[] { false, true }, b.ToArray<bool>());
        var f = Tensor.Zeros([2, 2], DType.F32);
        f.CopyFrom(Tensor.FromArray(new[] { true, false }));
        Assert.Equal(new float[] { 1, 0, 1, 0 }, f.ToArray<float>());
        Assert.Throws<ArgumentException>(() => f.CopyFrom(Tensor.Zeros([3])));
    }
}
