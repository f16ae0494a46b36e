using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.Ops.ConvPoolTestData;

namespace Engine.Tests.Ops;

/// <summary>avg_pool2d, max_pool2d, adaptive_avg_pool2d and the global mean pool against plain loops.</summary>
public class PoolTests
{
    private static Tensor Avg(PoolSpec s, Tensor x) =>
        Functional.AvgPool2d(x, (s.KH, s.KW), s.DefaultStride ? null : (s.SH, s.SW), (s.PH, s.PW), s.CeilMode, s.CountIncludePad, s.DivisorOverride);

    private static (Tensor, Tensor) Max(PoolSpec s, Tensor x) =>
        Functional.MaxPool2dWithIndices(x, (s.KH, s.KW), s.DefaultStride ? null : (s.SH, s.SW), (s.PH, s.PW), (s.DH, s.DW), s.CeilMode);

    [Theory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    public void AvgPoolMatchesReferenceLoopsWithGradients(DType dtype)
    {
        var rng = new System.Random(dtype == DType.F32 ? 31 : 32);
        for (int i = 0; i < 300; i++)
        {
            var s = PoolSpec.Random(rng, dilation: false);
            using var scope = Tensor.Scope();
            var x = Randn(s.InputShape, dtype, (ulong)i, permuted: i % 3 == 0).RequiresGradInPlace();
            var y = Avg(s, x);
            Assert.True(s.OutputShape.SequenceEqual(y.Shape), $"{s}: output shape {Layout.Format(y.Shape)}, expected {Layout.Format(s.OutputShape)}");
            var gy = Randn(y.Shape, dtype, (ulong)i + 1000);
            y.Backward(gy);
            double[] xs = x.ToArray<double>(), gys = gy.ToArray<double>();
            var expected = PoolReference.Avg(s, xs, gys, out var gx);
            var scale = PoolReference.Avg(s, Abs(xs), Abs(gys), out var gxScale);
            AssertClose(expected, y.ToArray<double>(), scale, Tolerance(dtype), $"{s} {dtype}");
            AssertClose(gx, x.Grad!.ToArray<double>(), gxScale, Tolerance(dtype), $"{s} {dtype} gradient");
        }
    }

    /// <summary>Integers in [-3, 3): a window often holds its maximum twice.</summary>
    private static Tensor Coarse(int[] shape, DType dtype, ulong seed, bool permuted)
    {
        var gen = new Engine.Randomness.Generator(seed);
        if (!permuted) return Tensor.RandInt(-3, 3, shape, dtype, generator: gen);
        using var b = Tensor.RandInt(-3, 3, shape.Reverse().ToArray(), dtype, generator: gen);
        return b.Permute(Enumerable.Range(0, shape.Length).Reverse().ToArray());
    }

    [Theory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    public void MaxPoolMatchesReferenceLoopsWithGradientsAndIndices(DType dtype)
    {
        var rng = new System.Random(dtype == DType.F32 ? 41 : 42);
        for (int i = 0; i < 300; i++)
        {
            var s = PoolSpec.Random(rng, dilation: true);
            using var scope = Tensor.Scope();
            // Coarse values make ties common, so the first-maximum rule is exercised.
            var x = Coarse(s.InputShape, dtype, (ulong)i, permuted: i % 3 == 0).RequiresGradInPlace();
            var (y, indices) = Max(s, x);
            Assert.True(s.OutputShape.SequenceEqual(y.Shape), $"{s}: output shape {Layout.Format(y.Shape)}, expected {Layout.Format(s.OutputShape)}");
            var gy = Randn(y.Shape, dtype, (ulong)i + 1000);
            y.Backward(gy);
            var expected = PoolReference.Max(s, x.ToArray<double>(), gy.ToArray<double>(), out var gx, out var expectedIndices);
            Assert.Equal(expected, y.ToArray<double>());
            Assert.Equal(expectedIndices, indices.ToArray<long>());
            AssertClose(gx, x.Grad!.ToArray<double>(), Abs(gx), Tolerance(dtype), $"{s} {dtype} gradient");
        }
    }

    [Theory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    public void AdaptiveAvgPoolMatchesReferenceLoopsWithGradients(DType dtype)
    {
        var rng = new System.Random(dtype == DType.F32 ? 51 : 52);
        for (int i = 0; i < 200; i++)
        {
            int n = rng.Next(0, 3), c = rng.Next(1, 4), h = rng.Next(1, 12), w = rng.Next(1, 12);
            int oh = rng.Next(1, h + 3), ow = rng.Next(1, w + 3);
            bool batched = rng.Next(4) != 0;
            int[] shape = batched ? [n, c, h, w] : [c, h, w];
            using var scope = Tensor.Scope();
            var x = Randn(shape, dtype, (ulong)i, permuted: i % 3 == 0).RequiresGradInPlace();
            var y = rng.Next(2) == 0 || oh != ow ? Functional.AdaptiveAvgPool2d(x, (oh, ow)) : Functional.AdaptiveAvgPool2d(x, oh);
            Assert.Equal(batched ? [n, c, oh, ow] : new[] { c, oh, ow }, y.Shape);
            var gy = Randn(y.Shape, dtype, (ulong)i + 1000);
            y.Backward(gy);
            double[] xs = x.ToArray<double>(), gys = gy.ToArray<double>();
            int planes = (batched ? n : 1) * c;
            var expected = PoolReference.Adaptive(planes, h, w, oh, ow, xs, gys, out var gx);
            var scale = PoolReference.Adaptive(planes, h, w, oh, ow, Abs(xs), Abs(gys), out var gxScale);
            string what = $"adaptive {Layout.Format(shape)} -> ({oh}, {ow}) {dtype}";
            AssertClose(expected, y.ToArray<double>(), scale, Tolerance(dtype), what);
            AssertClose(gx, x.Grad!.ToArray<double>(), gxScale, Tolerance(dtype), what + " gradient");
        }
    }

    [Fact]
    public void GlobalAvgPoolIsTheSpatialMean()
    {
        using var scope = Tensor.Scope();
        var x = Randn([2, 3, 4, 5], DType.F64, 1);
        var y = Functional.GlobalAvgPool2d(x);
        Assert.Equal([2, 3], y.Shape);
        Assert.Equal([2, 3, 1, 1], Functional.GlobalAvgPool2d(x, keepDim: true).Shape);
        Assert.Equal([3], Functional.GlobalAvgPool2d(x.Select(0, 1)).Shape);
        var xs = x.ToArray<double>();
        var expected = Enumerable.Range(0, 6).Select(p => xs.Skip(p * 20).Take(20).Average()).ToArray();
        AssertClose(expected, y.ToArray<double>(), Enumerable.Repeat(20.0, 6).ToArray(), 1e-15, "global mean");
        AssertClose(Functional.AdaptiveAvgPool2d(x, 1).ToArray<double>(), y.ToArray<double>(), Enumerable.Repeat(20.0, 6).ToArray(), 1e-15, "adaptive 1x1");
    }

    [Fact]
    public void SmallKnownExamples()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Arange(1, 17, 1, DType.F64).Reshape(1, 1, 4, 4);
        // 2x2 windows, stride 2.
        Assert.Equal([3.5, 5.5, 11.5, 13.5], Functional.AvgPool2d(x, 2).ToArray<double>());
        Assert.Equal([6.0, 8.0, 14.0, 16.0], Functional.MaxPool2d(x, 2).ToArray<double>());
        // 3x3, stride 2, padding 1: the corner window holds 1, 2, 5, 6 and five zeros of padding.
        Assert.Equal(14.0 / 9, Functional.AvgPool2d(x, 3, 2, 1).ToArray<double>()[0], 15);
        Assert.Equal(14.0 / 4, Functional.AvgPool2d(x, 3, 2, 1, countIncludePad: false).ToArray<double>()[0], 15);
        Assert.Equal(14.0 / 5, Functional.AvgPool2d(x, 3, 2, 1, divisorOverride: 5).ToArray<double>()[0], 15);
        // Rows 0 and 2, columns 1 and 3 (dilation 2): 2, 4, 10, 12.
        Assert.Equal([12.0], Functional.MaxPool2d(x, 2, 1, dilation: (2, 2), padding: 0).Narrow(2, 0, 1).Narrow(3, 1, 1).ToArray<double>());
        // Adaptive 4 -> 3: windows [0, 2), [1, 3), [2, 4).
        Assert.Equal([3.5, 4.5, 5.5], Functional.AdaptiveAvgPool2d(x, 3).Narrow(2, 0, 1).ToArray<double>());
    }

    [Fact]
    public void CeilModeKeepsAPartialWindowOnlyIfItStartsInsideTheInputOrLeftPadding()
    {
        using var scope = Tensor.Scope();
        var x5 = Randn([1, 1, 5, 5], DType.F64, 1);
        Assert.Equal([1, 1, 3, 3], Functional.MaxPool2d(x5, 2, ceilMode: true).Shape);       // windows at 0, 2, 4
        Assert.Equal([1, 1, 2, 2], Functional.MaxPool2d(x5, 2, ceilMode: false).Shape);
        Assert.Equal([1, 1, 3, 3], Functional.MaxPool2d(x5, 2, 2, 1, ceilMode: true).Shape); // a 4th would start at 6 = 5 + 1: dropped
        var x4 = Randn([1, 1, 4, 4], DType.F64, 1);
        Assert.Equal([1, 1, 2, 2], Functional.AvgPool2d(x4, 1, 2, ceilMode: true).Shape);    // a 3rd would start at 4: dropped
        // The partial window of a ceil-mode average divides by what lies inside the padded input.
        var ones = Tensor.Ones([1, 1, 5, 5], DType.F64);
        Assert.Equal(1.0, Functional.AvgPool2d(ones, 2, ceilMode: true).ToArray<double>()[^1]);
    }

    [Fact]
    public void MaxPoolTiesSendTheGradientToTheFirstMaximum()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Ones([1, 1, 3, 3], DType.F64).RequiresGradInPlace();
        var (y, indices) = Functional.MaxPool2dWithIndices(x, 2, 1);
        Assert.Equal([0L, 1, 3, 4], indices.ToArray<long>());
        y.Sum().Backward();
        Assert.Equal([1.0, 1, 0, 1, 1, 0, 0, 0, 0], x.Grad!.ToArray<double>());
        Assert.False(indices.RequiresGrad);
    }

    [Fact]
    public void MaxPoolWindowOfPaddingOnlyGivesMinusInfinityAndNoGradient()
    {
        using var scope = Tensor.Scope();
        // Taps at -1 and 1 of a one-pixel input: both in the padding.
        var x = Tensor.Ones([1, 1, 1, 3], DType.F64).RequiresGradInPlace();
        var (y, indices) = Functional.MaxPool2dWithIndices(x, (2, 1), 1, (1, 0), dilation: (2, 1));
        Assert.Equal([1, 1, 1, 3], y.Shape);
        Assert.All(y.ToArray<double>(), v => Assert.Equal(double.NegativeInfinity, v));
        Assert.All(indices.ToArray<long>(), i => Assert.Equal(-1L, i));
        y.Backward(Tensor.Ones([1, 1, 1, 3], DType.F64));
        Assert.All(x.Grad!.ToArray<double>(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void MaxPoolPropagatesNaN()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray([1.0, double.NaN, 3.0, 2.0], [1, 1, 2, 2]);
        var (y, indices) = Functional.MaxPool2dWithIndices(x, 2);
        Assert.True(double.IsNaN(y.Item()));
        Assert.Equal(1L, indices.Item<long>());
    }

    [Fact]
    public void PoolsTakeUnbatchedInputs()
    {
        using var scope = Tensor.Scope();
        var x = Randn([3, 7, 6], DType.F64, 2);
        var b = x.Unsqueeze(0);
        Assert.Equal(Functional.AvgPool2d(b, 3, 2, 1).ToArray<double>(), Functional.AvgPool2d(x, 3, 2, 1).ToArray<double>());
        Assert.Equal(Functional.MaxPool2d(b, 3, 2, 1).ToArray<double>(), Functional.MaxPool2d(x, 3, 2, 1).ToArray<double>());
        Assert.Equal([3, 4, 3], Functional.MaxPool2d(x, 3, 2, 1).Shape);
        Assert.Equal([3, 2, 5], Functional.AdaptiveAvgPool2d(x, (2, 5)).Shape);
    }

    // ---- bad inputs ----

    private static void Throws(string op, Func<Tensor> f, params string[] parts)
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => f());
        Assert.Contains(op, e.Message);
        foreach (var p in parts) Assert.Contains(p, e.Message);
    }

    private static Tensor Z(params int[] shape) => Tensor.Zeros(shape);

    [Fact]
    public void WindowedPoolsRefuseBadHyperParameters()
    {
        foreach (var (op, pool) in new (string, Func<Tensor, Size2d, Size2d, Size2d, Tensor>)[]
        {
            ("avg_pool2d", (x, k, s, p) => Functional.AvgPool2d(x, k, s, p)),
            ("max_pool2d", (x, k, s, p) => Functional.MaxPool2d(x, k, s, p)),
        })
        {
            Throws(op, () => pool(Z(1, 2, 6, 6), (0, 2), 1, 0), "kernel size", "kH: 0", "[1, 2, 6, 6]");
            Throws(op, () => pool(Z(1, 2, 6, 6), 2, (1, 0), 0), "stride", "dW: 0", "[1, 2, 6, 6]");
            Throws(op, () => pool(Z(1, 2, 6, 6), 3, 1, 2), "half of kernel size", "padW = 2", "[1, 2, 6, 6]");
            Throws(op, () => pool(Z(1, 2, 6, 6), 3, 1, (-1, 0)), "non-negative", "[1, 2, 6, 6]");
            Throws(op, () => pool(Z(1, 2, 2, 6), 3, 1, 0), "Output size is too small", "(2x2x6)", "(2x0x4)", "[1, 2, 2, 6]");
            Throws(op, () => pool(Z(6, 6), 2, 2, 0), "3D or 4D", "[6, 6]");
            Throws(op, () => pool(Z(1, 1, 1, 6, 6), 2, 2, 0), "3D or 4D", "[1, 1, 1, 6, 6]");
            Throws(op, () => pool(Z(1, 0, 6, 6), 2, 2, 0), "[1, 0, 6, 6]");
            Throws(op, () => pool(Tensor.Zeros([1, 1, 4, 4], DType.I64), 2, 2, 0), "torch.int64", "[1, 1, 4, 4]");
        }
        Throws("avg_pool2d", () => Functional.AvgPool2d(Z(1, 1, 4, 4), 2, divisorOverride: 0), "divisor must be not zero", "[1, 1, 4, 4]");
        Throws("max_pool2d", () => Functional.MaxPool2d(Z(1, 1, 4, 4), 2, dilation: (1, 0)), "dilation", "[1, 1, 4, 4]");
    }

    [Fact]
    public void AdaptivePoolRefusesBadSizes()
    {
        Throws("adaptive_avg_pool2d", () => Functional.AdaptiveAvgPool2d(Z(1, 2, 4, 4), (-1, 2)), "greater than or equal to 0", "{-1, 2}", "[1, 2, 4, 4]");
        Throws("adaptive_avg_pool2d", () => Functional.AdaptiveAvgPool2d(Z(4, 4), 2), "3D or 4D", "[4, 4]");
        Throws("adaptive_avg_pool2d", () => Functional.AdaptiveAvgPool2d(Z(1, 2, 0, 4), 2), "non-zero size", "[1, 2, 0, 4]", "dimension 2");
        Throws("global_avg_pool2d", () => Functional.GlobalAvgPool2d(Z(4, 4)), "3D or 4D", "[4, 4]");
    }

    // ---- GPU parity ----

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaMatchesCpu()
    {
        var pools = new (string Name, Func<Tensor, Tensor> Pool)[]
        {
            ("avg", x => Functional.AvgPool2d(x, 3, 2, 1, ceilMode: true, countIncludePad: false)),
            ("max", x => Functional.MaxPool2d(x, 3, 2, 1, dilation: (1, 2))),
            ("adaptive", x => Functional.AdaptiveAvgPool2d(x, (3, 5))),
            ("global", x => Functional.GlobalAvgPool2d(x)),
        };
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            foreach (var (name, pool) in pools)
            {
                using var scope = Tensor.Scope();
                var x = Randn([2, 3, 9, 10], dtype, 1).RequiresGradInPlace();
                var xg = x.Detach().ToDevice(Device.Cuda(0)).RequiresGradInPlace();
                var y = pool(x);
                var yg = pool(xg);
                var gy = Randn(y.Shape, dtype, 2);
                y.Backward(gy);
                yg.Backward(gy.ToDevice(Device.Cuda(0)));
                double tol = dtype == DType.F32 ? 1e-5 : 1e-12;
                var scale = Enumerable.Repeat(10.0, (int)y.NumEl).ToArray();
                AssertClose(y.ToArray<double>(), yg.ToArray<double>(), scale, tol, $"{name} {dtype}");
                AssertClose(x.Grad!.ToArray<double>(), xg.Grad!.ToArray<double>(), Enumerable.Repeat(10.0, (int)x.NumEl).ToArray(), tol, $"{name} {dtype} gradient");
            }
    }
}

/// <summary>The poolings give the same bits for one and two threads (they change the thread count, so they run alone).</summary>
[Collection(SerialCollection.Name)]
public class PoolDeterminismTests
{
    [Fact]
    public void OneAndTwoThreadsGiveTheSameBits()
    {
        var pools = new (string Name, Func<Tensor, Tensor> Pool)[]
        {
            ("avg", x => Functional.AvgPool2d(x, 3, 2, 1)),
            ("max", x => Functional.MaxPool2d(x, 3, 2, 1)),
            ("adaptive", x => Functional.AdaptiveAvgPool2d(x, 7)),
        };
        foreach (var (name, pool) in pools)
        {
            var one = Run(1, pool);
            var two = Run(2, pool);
            Bitwise(one.Y, two.Y, name + " output");
            Bitwise(one.G, two.G, name + " gradient");
        }
    }

    private static (double[] Y, double[] G) Run(int threads, Func<Tensor, Tensor> pool)
    {
        int previous = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = threads;
            using var scope = Tensor.Scope();
            var x = Randn([8, 32, 28, 28], DType.F32, 1).RequiresGradInPlace();
            var y = pool(x);
            y.Backward(Randn(y.Shape, DType.F32, 2));
            return (y.ToArray<double>(), x.Grad!.ToArray<double>());
        }
        finally
        {
            CpuParallel.ThreadCount = previous;
        }
    }
}
